import { beforeEach, describe, expect, it } from "vitest";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { setLang } from "../i18n/lang";
import { AccountPage } from "../pages/Account";
import { fakeApi, renderWithClient } from "../test/api";
import { parseTerms } from "./VocabularyEditor";

/** The server's side: the account, its vocabulary as last saved, and setVocabulary's rules. */
function server(vocabulary: string[]) {
  const state = { vocabulary };
  const api = fakeApi({
    Account: () => ({
      me: { __typename: "User", id: "u1", phoneNumber: "+998901234567", createdAt: "2026-12-01T10:00:00+00:00", vocabulary: state.vocabulary },
      sessions: [
        {
          __typename: "Session",
          id: "s1",
          createdAt: "2026-12-01T10:00:00+00:00",
          lastUsedAt: "2026-12-07T10:00:00+00:00",
          expiresAt: "2027-01-01T10:00:00+00:00",
          device: "Chrome on Linux",
          ipAddress: "127.0.0.1",
          clientType: "BROWSER",
          current: true,
        },
      ],
    }),
    SetVocabulary: ({ variables }) => {
      const terms = variables.terms as string[];
      const long = terms.find((t) => t.length > 60);
      if (long !== undefined || terms.length > 50) {
        return {
          setVocabulary: {
            __typename: "InvalidVocabulary",
            code: "INVALID_VOCABULARY",
            message: "The vocabulary was not saved: at most 50 terms of up to 60 characters each, without commas.",
            term: long ?? null,
            maxTerms: 50,
            maxTermChars: 60,
          },
        };
      }
      state.vocabulary = terms;
      return { setVocabulary: { __typename: "User", id: "u1", vocabulary: terms } };
    },
  });
  return { api, state };
}

async function openAccount() {
  renderWithClient(<AccountPage />);
  const section = await screen.findByRole("region", { name: "Vocabulary" });
  return { section: within(section), box: within(section).getByRole("textbox", { name: "Names and terms, one per line" }) };
}

beforeEach(() => setLang("en"));

describe("the vocabulary on the Account page", () => {
  it("shows the saved terms one per line and saves the edited list, saying when it applies", async () => {
    const { api, state } = server(["Dilnoza Karimova"]);
    const { section, box } = await openAccount();
    expect(box).toHaveValue("Dilnoza Karimova");
    const save = section.getByRole("button", { name: "Save vocabulary" });
    expect(save).toBeDisabled(); // nothing changed yet

    await userEvent.type(box, "{Enter}Chorsu, UzAuto  Motors{Enter}{Enter}chorsu");
    // The terms as they will be saved: a comma separates, spaces collapse, a repeat goes.
    const chips = within(section.getByRole("list", { name: "Terms to save" })).getAllByRole("listitem");
    expect(chips.map((c) => c.textContent)).toEqual(["Dilnoza Karimova", "Chorsu", "UzAuto Motors"]);

    await userEvent.click(save);
    expect(await section.findByText("Vocabulary saved. It applies to transcriptions that start from now on.")).toBeInTheDocument();
    expect(api.of("SetVocabulary").map((c) => c.variables)).toEqual([{ terms: ["Dilnoza Karimova", "Chorsu", "UzAuto Motors"] }]);
    expect(state.vocabulary).toEqual(["Dilnoza Karimova", "Chorsu", "UzAuto Motors"]);
    // As the server keeps them.
    expect(box).toHaveValue("Dilnoza Karimova\nChorsu\nUzAuto Motors");
    expect(save).toBeDisabled();
    expect(section.queryByRole("alert")).toBeNull();
  });

  it("clears the vocabulary with an empty list", async () => {
    const { api } = server(["Chorsu"]);
    const { section, box } = await openAccount();
    await userEvent.clear(box);
    await userEvent.click(section.getByRole("button", { name: "Save vocabulary" }));
    await section.findByText(/Vocabulary saved/);
    expect(api.of("SetVocabulary")[0]?.variables).toEqual({ terms: [] });
  });

  it("on InvalidVocabulary shows the server's message and the term, marked and selected in the box", async () => {
    const { state } = server(["Chorsu"]);
    const { section, box } = await openAccount();
    const long = "Toshkent viloyati Chirchiq shahar hokimligi qurilish boʻlimi boshligʻi";
    await userEvent.type(box, `{Enter}${long}{Enter}Dilnoza`);
    await userEvent.click(section.getByRole("button", { name: "Save vocabulary" }));

    const alert = await section.findByRole("alert");
    expect(alert).toHaveTextContent("The vocabulary was not saved: at most 50 terms of up to 60 characters each, without commas.");
    expect(alert).toHaveTextContent(`Check this term: ${long}`);
    expect(within(alert).getByText(long).tagName).toBe("MARK");
    const bad = within(section.getByRole("list", { name: "Terms to save" })).getByText(long);
    expect(bad).toHaveClass("chip", "bad");
    expect(within(section.getByRole("list", { name: "Terms to save" })).getByText("Dilnoza")).not.toHaveClass("bad");

    // The box says it is wrong, and the term is selected to be fixed at once.
    expect(box).toHaveAttribute("aria-invalid", "true");
    expect(box).toHaveAccessibleDescription(expect.stringContaining(`Check this term: ${long}`));
    expect(box).toHaveFocus();
    const element = box as HTMLTextAreaElement;
    expect(element.value.slice(element.selectionStart, element.selectionEnd)).toBe(long);
    expect(state.vocabulary).toEqual(["Chorsu"]); // nothing saved

    // Fixed: the mark goes with the term, and the list saves.
    await userEvent.keyboard("{Backspace}");
    await waitFor(() => expect(box).not.toHaveAttribute("aria-invalid"));
    await userEvent.click(section.getByRole("button", { name: "Save vocabulary" }));
    await section.findByText(/Vocabulary saved/);
    expect(state.vocabulary).toEqual(["Chorsu", "Dilnoza"]);
  });

  it("is translated: Uzbek by default", async () => {
    setLang("uz");
    server([]);
    renderWithClient(<AccountPage />);
    const section = await screen.findByRole("region", { name: "Lugʻat" });
    expect(within(section).getByRole("button", { name: "Lugʻatni saqlash" })).toBeDisabled();
    expect(within(section).getByText(/bundan keyin boshlanadigan matnga aylantirishlarga/)).toBeInTheDocument();
  });
});

describe("parseTerms", () => {
  it("splits on lines and commas, collapses spaces, keeps a repeat once ignoring case", () => {
    expect(parseTerms("  Oʻktam \n\n Gʻofur,  gʻofur ,Chorsu\r\n")).toEqual(["Oʻktam", "Gʻofur", "Chorsu"]);
    expect(parseTerms("")).toEqual([]);
  });
});
