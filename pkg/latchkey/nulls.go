package latchkey

import (
	"encoding/json"
	"fmt"
	"reflect"

	"gopkg.in/yaml.v3"
)

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// NullMessage is what an error says of a null NullField found.
const NullMessage = "must not be null: leave the field out, or send a value"

// NullField returns the path of the first null in the JSON document data
// that is read into a part of type t which cannot hold one ("" for the
// whole document), and whether there is one. encoding/json reads such a null as "left out", which the
// API's document does not allow: a client that sends {"label": null} gets
// told so instead of having its value silently dropped. Only values read
// into an interface or a json.RawMessage may be null; the caller reads
// those itself.
func NullField(data []byte, t reflect.Type) (string, bool) {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) != 1 {
		return "", false
	}
	return nullValue(root.Content[0], t, "", 0)
}

// nullValue walks n as encoding/json reads it into t; found says a null
// was met, at path p ("" for the whole document).
func nullValue(n *yaml.Node, t reflect.Type, path string, depth int) (p string, found bool) {
	if depth > 64 {
		return "", false
	}
	if t.Kind() == reflect.Interface || t == rawMessageType {
		return "", false
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return path, true
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return "", false
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			f, ok := fieldByTag(t, "json", key)
			if !ok {
				continue
			}
			if p, found := nullValue(n.Content[i+1], f.Type, joinPath(path, key), depth+1); found {
				return p, true
			}
		}
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			if p, found := nullValue(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), depth+1); found {
				return p, true
			}
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if p, found := nullValue(n.Content[i+1], t.Elem(), joinPath(path, n.Content[i].Value), depth+1); found {
				return p, true
			}
		}
	}
	return "", false
}
