/**
 * Uploads go through XMLHttpRequest, not fetch: it reports upload progress and can be
 * aborted. The body follows the GraphQL multipart request spec.
 */
import { stringifyDocument } from "urql";
import { graphql } from "../gql";
import type { UploadAudioMutation } from "../gql/graphql";
import { apiHeaders } from "./fetch";
import { freshAccessToken, refreshSession, tokenRejected } from "../auth/session";

export const UploadAudio = graphql(`
  mutation UploadAudio($file: Upload!, $language: String, $prompt: String) {
    uploadAudio(file: $file, language: $language, prompt: $prompt) {
      __typename
      ... on Audio { id filename status }
      ... on FileTooLarge { maxBytes }
      ... on InvalidAudio { reason }
      ... on InvalidPrompt { maxChars }
      ... on UnsupportedLanguage { language }
      ... on Error { code message }
    }
  }
`);

type Answer = UploadAudioMutation["uploadAudio"];
export type UploadOutcome =
  | { kind: "uploaded"; audioId: string }
  | { kind: "refused"; code: string; message: string }
  | { kind: "tooLarge" }
  | { kind: "network" }
  | { kind: "aborted" }
  | { kind: "unauthenticated" };

/** What is sent with the file: its language (null: detected) and what it is about. */
export interface UploadOptions {
  language: string | null;
  prompt?: string | null;
}

export interface UploadHandle {
  done: Promise<UploadOutcome>;
  abort: () => void;
}

interface Body {
  data?: { uploadAudio?: Answer } | null;
  errors?: Array<{ message?: string; extensions?: { code?: string } }>;
}

function outcomeOf(status: number, text: string): UploadOutcome {
  if (status === 413) return { kind: "tooLarge" };
  if (status === 401) return { kind: "unauthenticated" };
  let body: Body;
  try {
    body = JSON.parse(text) as Body;
  } catch {
    return { kind: "network" };
  }
  const answer = body.data?.uploadAudio;
  if (answer?.__typename === "Audio") return { kind: "uploaded", audioId: answer.id };
  if (answer) return { kind: "refused", code: answer.code, message: answer.message };
  const error = body.errors?.[0];
  if (error?.extensions?.code === "UNAUTHENTICATED") return { kind: "unauthenticated" };
  return { kind: "refused", code: error?.extensions?.code ?? "ERROR", message: error?.message ?? "" };
}

function sendOnce(
  file: File,
  { language, prompt }: UploadOptions,
  token: string | null,
  onProgress: (loaded: number, total: number) => void,
  register: (xhr: XMLHttpRequest) => void,
): Promise<UploadOutcome> {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    register(xhr);
    const form = new FormData();
    form.append(
      "operations",
      // No prompt, no variable: the request is the one it was before prompts existed.
      JSON.stringify({ query: stringifyDocument(UploadAudio), variables: { file: null, language, ...(prompt ? { prompt } : {}) } }),
    );
    form.append("map", JSON.stringify({ "0": ["variables.file"] }));
    form.append("0", file, file.name);
    xhr.open("POST", "/graphql");
    // Multipart is a CORS "simple" request: the server refuses it without this header.
    const headers = apiHeaders(token, { "Apollo-Require-Preflight": "1" });
    headers.forEach((value, name) => xhr.setRequestHeader(name, value));
    xhr.upload.onprogress = (event) => onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    xhr.onload = () => resolve(outcomeOf(xhr.status, xhr.responseText));
    xhr.onerror = () => resolve({ kind: "network" });
    xhr.ontimeout = () => resolve({ kind: "network" });
    xhr.onabort = () => resolve({ kind: "aborted" });
    xhr.send(form);
  });
}

/** Upload one file; an expired token is refreshed and the upload sent once more. */
export function uploadAudio(
  file: File,
  options: UploadOptions,
  onProgress: (loaded: number, total: number) => void,
): UploadHandle {
  let current: XMLHttpRequest | null = null;
  let aborted = false;
  const register = (xhr: XMLHttpRequest): void => {
    current = xhr;
  };
  const done = (async (): Promise<UploadOutcome> => {
    const token = await freshAccessToken();
    if (aborted) return { kind: "aborted" };
    const first = await sendOnce(file, options, token, onProgress, register);
    if (first.kind !== "unauthenticated" || aborted) return first;
    tokenRejected(token);
    if ((await refreshSession()) !== "ok") return first;
    return sendOnce(file, options, await freshAccessToken(), onProgress, register);
  })();
  return {
    done,
    abort: () => {
      aborted = true;
      current?.abort();
    },
  };
}
