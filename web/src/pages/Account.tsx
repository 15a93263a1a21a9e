import { useId, useState } from "react";
import { useMutation, useQuery } from "urql";
import { graphql } from "../gql";
import { useLang, useT } from "../i18n";
import { leaveAfterSignOut } from "../auth/userData";
import { deviceName, formatDateTime } from "../lib/format";
import { VocabularyEditor } from "../components/VocabularyEditor";
import { useDocumentTitle } from "../lib/useDocumentTitle";

const AccountQuery = graphql(`
  query Account {
    me { id phoneNumber createdAt vocabulary }
    sessions { id createdAt lastUsedAt expiresAt device ipAddress clientType current }
  }
`);
const SignOut = graphql(`mutation SignOut { signOut { __typename ... on SignedOut { sessionsEnded } } }`);
const SignOutEverywhere = graphql(`
  mutation SignOutEverywhere { signOutEverywhere { __typename ... on SignedOut { sessionsEnded } } }
`);
const RevokeSession = graphql(`
  mutation RevokeSession($id: ID!) {
    revokeSession(id: $id) { __typename ... on RevokedSession { id } ... on Error { code message } }
  }
`);
const DeleteAccount = graphql(`mutation DeleteAccount { deleteAccount { __typename ... on DeletedAccount { userId } } }`);

/** People type ʻ as ' or ‘ (and in any case): all the same word. */
export function sameWord(typed: string, word: string): boolean {
  const norm = (s: string): string => s.trim().replace(/[ʻ'‘’`]/g, "ʻ").toLocaleUpperCase();
  return norm(typed) === norm(word);
}

export function AccountPage() {
  const t = useT();
  const lang = useLang();
  useDocumentTitle(t("acc.title"));
  const confirmId = useId();
  const [result, reexecute] = useQuery({ query: AccountQuery, requestPolicy: "network-only" });
  const [, signOut] = useMutation(SignOut);
  const [, signOutEverywhere] = useMutation(SignOutEverywhere);
  const [, revoke] = useMutation(RevokeSession);
  const [deleting, deleteAccount] = useMutation(DeleteAccount);
  const [typed, setTyped] = useState("");
  const [error, setError] = useState<string | null>(null);
  const word = t("acc.deleteWord");

  const onSignOut = async (everywhere: boolean): Promise<void> => {
    const r = everywhere ? await signOutEverywhere({}) : await signOut({});
    if (r.error && !r.data) {
      setError(t("error.network"));
      return;
    }
    // Uploads, drafts and the cache go with the session: the next person on this
    // browser starts from nothing.
    leaveAfterSignOut();
  };

  const onRevoke = async (id: string): Promise<void> => {
    const r = await revoke({ id });
    const answer = r.data?.revokeSession;
    if (answer && answer.__typename !== "RevokedSession") setError(answer.message);
    reexecute({ requestPolicy: "network-only" });
  };

  const onDelete = async (): Promise<void> => {
    const r = await deleteAccount({});
    if (r.data?.deleteAccount.__typename === "DeletedAccount") leaveAfterSignOut();
    else setError(t("error.network"));
  };

  const data = result.data;
  return (
    <>
      <h1>{t("acc.title")}</h1>
      {!data && (result.error ? <p className="error" role="alert">{t("error.network")}</p> : <p className="hint">{t("loading")}</p>)}
      {data && (
        <>
          <dl className="facts">
            <dt>{t("acc.phone")}</dt>
            <dd>{data.me.phoneNumber}</dd>
            <dt>{t("acc.since")}</dt>
            <dd>{formatDateTime(data.me.createdAt, lang)}</dd>
          </dl>
          <section id="vocabulary" aria-labelledby="vocabulary-h">
            <h2 id="vocabulary-h">{t("vocab.title")}</h2>
            <p className="hint">{t("vocab.intro")}</p>
            <VocabularyEditor key={data.me.id} initial={data.me.vocabulary} />
          </section>
          <section aria-labelledby="sessions-h">
            <h2 id="sessions-h">{t("acc.sessions")}</h2>
            <ul className="sessions">
              {data.sessions.map((s) => (
                <li key={s.id} className={s.current ? "session current" : "session"}>
                  <div>
                    <strong>{deviceName(s.device, t)}</strong>
                    {s.current && <span className="badge">{t("acc.thisDevice")}</span>}
                  </div>
                  <div className="hint small">
                    {t("acc.lastUsed", { date: formatDateTime(s.lastUsedAt, lang) })}
                    {s.ipAddress ? ` · ${s.ipAddress}` : ""}
                  </div>
                  {!s.current && (
                    <button type="button" onClick={() => void onRevoke(s.id)}>
                      {t("acc.endSession")}
                    </button>
                  )}
                </li>
              ))}
            </ul>
            <div className="row">
              <button type="button" onClick={() => void onSignOut(false)}>
                {t("acc.signOut")}
              </button>
              <button type="button" onClick={() => void onSignOut(true)}>
                {t("acc.signOutEverywhere")}
              </button>
            </div>
          </section>
          <section className="danger-zone" aria-labelledby="delete-h">
            <h2 id="delete-h">{t("acc.deleteTitle")}</h2>
            <p>{t("acc.deleteWarning")}</p>
            <div className="field">
              <label htmlFor={confirmId}>{t("acc.deleteType", { word })}</label>
              <input id={confirmId} value={typed} autoComplete="off" onChange={(e) => setTyped(e.target.value)} />
            </div>
            <button
              type="button"
              className="danger"
              disabled={sameWord(typed, word) === false || deleting.fetching}
              onClick={() => void onDelete()}
            >
              {t("acc.deleteButton")}
            </button>
          </section>
        </>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </>
  );
}
