// Package reconcile compares manifests with the state: Export writes the
// state as a manifest, and Diff plans the store commands that make the
// state what a manifest says, applied together as one write.
//
// It imports the store (its read transaction and commands), the manifest
// format and the pure domain packages.
package reconcile
