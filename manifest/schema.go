package manifest

import _ "embed"

// Schema is the JSON Schema of a manifest (draft 2020-12), for editors
// and CI checks: `grantctl export --schema`.
//
//go:embed access.schema.json
var Schema []byte
