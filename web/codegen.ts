import type { CodegenConfig } from "@graphql-codegen/cli";

// Operations are typed against the live schema, which `ovoz schema` prints into the
// repository root (CI keeps the committed file equal to it).
const config: CodegenConfig = {
  schema: "../schema.graphql",
  documents: ["src/**/*.{ts,tsx}", "!src/gql/**/*"],
  ignoreNoDocuments: true,
  generates: {
    "./src/gql/": {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        skipTypename: false,
        nonOptionalTypename: true,
        scalars: { DateTime: "string", Upload: "File" },
      },
    },
  },
};
export default config;
