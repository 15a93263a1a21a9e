/**
 * A person's vocabulary: names and terms their transcriptions are steered towards. Edited
 * as plain lines (what a phone's keyboard, paste and autocorrect handle best), shown back
 * as the terms that will be saved, so a comma or a duplicate is no surprise.
 */
import { useId, useMemo, useRef, useState, type FormEvent } from "react";
import { useMutation } from "urql";
import { graphql } from "../gql";
import { useT } from "../i18n";

export const SetVocabulary = graphql(`
  mutation SetVocabulary($terms: [String!]!) {
    setVocabulary(terms: $terms) {
      __typename
      ... on User { id vocabulary }
      ... on InvalidVocabulary { code message term maxTerms maxTermChars }
    }
  }
`);

/** One term as the server keeps it: spaces collapsed, NFC. */
function cleanTerm(raw: string): string {
  return raw.normalize("NFC").split(/\s+/).filter(Boolean).join(" ");
}

function key(term: string): string {
  return cleanTerm(term).toLocaleLowerCase();
}

/**
 * The terms of the text: one a line, a comma separating too (the server refuses commas
 * inside a term: they separate hotwords), blanks dropped, a repeat (ignoring case) kept once.
 */
export function parseTerms(text: string): string[] {
  const seen = new Set<string>();
  const terms: string[] = [];
  for (const part of text.split(/[\n,]/)) {
    const term = cleanTerm(part);
    if (!term || seen.has(key(term))) continue;
    seen.add(key(term));
    terms.push(term);
  }
  return terms;
}

function sameTerms(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((term, i) => term === b[i]);
}

type Outcome =
  | { kind: "saved" }
  | { kind: "invalid"; message: string; term: string | null; maxTermChars: number }
  | { kind: "error"; message: string };

export function VocabularyEditor({ initial }: { initial: readonly string[] }) {
  const t = useT();
  const id = useId();
  const box = useRef<HTMLTextAreaElement>(null);
  const [text, setText] = useState(() => initial.join("\n"));
  const [saved, setSaved] = useState<readonly string[]>(initial);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [state, save] = useMutation(SetVocabulary);
  const terms = useMemo(() => parseTerms(text), [text]);
  const dirty = !sameTerms(terms, saved);

  const invalid = outcome?.kind === "invalid" ? outcome : null;
  const isBad = (term: string): boolean =>
    invalid !== null && ((invalid.term !== null && key(invalid.term) === key(term)) || term.length > invalid.maxTermChars);
  // Until the next save, or until the offending term is gone from the text.
  const showInvalid = invalid !== null && (invalid.term === null || terms.some(isBad));
  const problem = outcome?.kind === "error" ? outcome.message : showInvalid ? invalid.message : null;

  /** Put the caret on the offending term, selected, so it can be fixed at once. */
  const selectTerm = (term: string): void => {
    const el = box.current;
    if (!el) return;
    const lower = el.value.toLocaleLowerCase();
    let at = lower.indexOf(term.toLocaleLowerCase());
    let length = term.length;
    if (at < 0) {
      // Written with other spacing: find the line it is on.
      const lines = el.value.split("\n");
      const line = lines.findIndex((l) => l.split(",").some((part) => key(part) === key(term)));
      if (line < 0) return;
      at = lines.slice(0, line).reduce((n, l) => n + l.length + 1, 0);
      length = lines[line]?.length ?? 0;
    }
    el.focus();
    el.setSelectionRange(at, at + length);
  };

  const onSubmit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setOutcome(null);
    const r = await save({ terms });
    const answer = r.data?.setVocabulary;
    if (!answer) {
      setOutcome({ kind: "error", message: t("error.network") });
    } else if (answer.__typename === "User") {
      setSaved(answer.vocabulary);
      // As the server keeps them: one a line, a repeat dropped, spaces collapsed.
      setText(answer.vocabulary.join("\n"));
      setOutcome({ kind: "saved" });
    } else {
      setOutcome({ kind: "invalid", message: answer.message, term: answer.term ?? null, maxTermChars: answer.maxTermChars });
      if (answer.term) selectTerm(answer.term);
    }
  };

  return (
    <form className="vocabulary" onSubmit={(e) => void onSubmit(e)} noValidate>
      <div className="field">
        <label htmlFor={id}>{t("vocab.label")}</label>
        <textarea
          ref={box}
          id={id}
          rows={5}
          value={text}
          placeholder={t("vocab.placeholder")}
          spellCheck={false}
          autoComplete="off"
          dir="auto"
          aria-invalid={showInvalid ? true : undefined}
          aria-describedby={`${id}-hint${problem ? ` ${id}-problem` : ""}`}
          onChange={(e) => setText(e.target.value)}
        />
        <p id={`${id}-hint`} className="hint small">
          {t("vocab.hint")}
        </p>
      </div>
      {terms.length > 0 && (
        <ul className="chips" aria-label={t("vocab.preview")}>
          {terms.map((term) => (
            <li key={key(term)} className={isBad(term) ? "chip bad" : "chip"} dir="auto">
              {term}
            </li>
          ))}
        </ul>
      )}
      <div className="row">
        <button type="submit" className="primary" disabled={!dirty || state.fetching}>
          {state.fetching ? t("edit.saving") : t("vocab.save")}
        </button>
      </div>
      <div aria-live="polite">
        {outcome?.kind === "saved" && !dirty && <p className="notice">{t("vocab.saved")}</p>}
      </div>
      {problem && (
        <div id={`${id}-problem`} className="error" role="alert">
          <p>{problem}</p>
          {showInvalid && invalid.term && (
            <p>
              {t("vocab.badTerm")} <mark className="bad-term" dir="auto">{invalid.term}</mark>
            </p>
          )}
        </div>
      )}
    </form>
  );
}
