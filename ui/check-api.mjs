// Checks the hand-typed API client (src/api.ts) against the OpenAPI
// document grantd publishes (proto/grantd/v1/openapi.swagger.json): every
// field an interface declares must be a field of its message, so that a
// renamed or removed field fails the check instead of reading undefined.
import { readFileSync } from "node:fs";

const messages = {
  User: "v1User", Org: "v1Org", Team: "v1Team", Member: ["v1OrgMember", "v1TeamMember"], ServiceAccount: "v1ServiceAccount",
  Collection: "v1Collection", Permission: "v1Permission", Role: "v1Role", Operation: "v1Operation", Grant: "v1Grant",
  Contribution: "v1Contribution", AccessEntry: "v1AccessEntry", Explanation: "v1ExplainResponse",
  EffectivePermission: "v1EffectivePermission", AuditEvent: "v1AuditEvent", APIToken: "v1APIToken", Bundle: "v1Bundle",
  Repository: "v1Repository", SyncRun: "v1LDAPSyncRun",
};
const local = new Set(["Session"]); // the console's own /ui/session, not the API

const doc = JSON.parse(readFileSync("../proto/grantd/v1/openapi.swagger.json", "utf8")).definitions;
const src = readFileSync("src/api.ts", "utf8");
const problems = [];
let checked = 0;
for (const [, name, body] of src.matchAll(/export interface (\w+) \{([^}]*)\}/g)) {
  if (local.has(name)) continue;
  const defs = [messages[name]].flat().filter(Boolean);
  if (defs.length === 0) {
    problems.push(`interface ${name} is mapped to no message of the OpenAPI document (check-api.mjs)`);
    continue;
  }
  const known = new Set(defs.flatMap((d) => Object.keys(doc[d]?.properties ?? {})));
  if (known.size === 0) problems.push(`${defs.join(", ")} is not in the OpenAPI document`);
  for (const [, field] of body.matchAll(/^\s*(\w+)\??:/gm)) {
    checked++;
    if (!known.has(field)) problems.push(`${name}.${field} is not a field of ${defs.join(" or ")}`);
  }
}
if (problems.length > 0 || checked < 50) {
  console.error(problems.join("\n") || `only ${checked} fields checked`);
  process.exit(1);
}
console.log(`api.ts: ${checked} fields checked against the OpenAPI document`);
