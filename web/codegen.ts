import { existsSync, readFileSync } from "node:fs";
import type { CodegenConfig } from "@graphql-codegen/cli";

// The live schema is printed by `ovoz schema` into the repository root.
const schemaPath = "../schema.graphql";
// Fields the client is written against before the backend has them: used only
// while the live schema lacks them, so the build never diverges from the server.
const pendingPath = "./schema-pending.graphql";
const live = readFileSync(schemaPath, "utf8");
const schema = [schemaPath];
if (existsSync(pendingPath) && !/\bserverInfo\b/.test(live)) schema.push(pendingPath);

const config: CodegenConfig = {
  schema,
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
