package engine

import (
	"bytes"
	"encoding/json"

	"github.com/grantd/grantd/collections"
)

// stampLabel writes the access label into an unlabelled create's body,
// so that the object lives in the collection the create was decided on
// (the creator's default collection): the container's, network's,
// volume's, secret's or config's Labels, and a service's Labels and its
// task template's container labels. Every other field stays as sent.
func stampLabel(kind body, raw []byte, collection string) ([]byte, error) {
	if collection == "" {
		return nil, deny("the create was decided without a collection to write into its labels")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // numbers stay as the client wrote them
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil || doc == nil {
		return nil, deny("unreadable request body")
	}
	setLabel(doc, collection)
	if kind == serviceSpec {
		task, _ := doc["TaskTemplate"].(map[string]any)
		if task != nil {
			if cs, ok := task["ContainerSpec"].(map[string]any); ok {
				setLabel(cs, collection)
			}
		}
	}
	return json.Marshal(doc)
}

// setLabel sets the access label in obj's Labels.
func setLabel(obj map[string]any, collection string) {
	labels, _ := obj["Labels"].(map[string]any)
	if labels == nil {
		labels = map[string]any{}
		obj["Labels"] = labels
	}
	labels[collections.AccessLabel] = collection
}
