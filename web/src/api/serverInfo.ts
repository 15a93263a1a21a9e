import { useQuery } from "urql";
import { graphql } from "../gql";

const ServerInfoQuery = graphql(`
  query ServerInfo {
    serverInfo {
      maxUploadBytes
      maxAudioSeconds
      languages { code name supported }
      refusesUnsupportedLanguages
    }
  }
`);

/** Limits and languages of this server (no sign-in needed); cached for the page's life. */
export function useServerInfo() {
  const [result] = useQuery({ query: ServerInfoQuery, requestPolicy: "cache-first" });
  return result.data?.serverInfo ?? null;
}
