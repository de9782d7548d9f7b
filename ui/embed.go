// Package ui holds the admin console's built assets (dist/), embedded in
// the grantd binary and served at /ui/. The sources are TypeScript in
// src/, built with npm (make ui); the built files are committed, like the
// generated protobuf code, and a test fails when they are stale.
package ui

import (
	"embed"
	"io/fs"
)

//go:embed dist
var dist embed.FS

// Assets are the console's files: index.html, app.js, app.css.
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // dist is embedded at build time
	}
	return sub
}
