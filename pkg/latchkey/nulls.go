package latchkey

import (
	"bytes"
	"encoding/json"
	"reflect"

	"gopkg.in/yaml.v3"
)

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// NullMessage is what an error says of a null NullField found.
const NullMessage = "must not be null: leave the field out, or send a value"

// NullField returns the path of the first null in the JSON document data
// that is read into a part of type t which cannot hold one ("" for the
// whole document), and whether there is one. encoding/json reads such a
// null as "left out", which the API's document does not allow: a client
// that sends {"label": null} is told so instead of having the value
// silently dropped. Only values read into an interface or a
// json.RawMessage may be null; the caller reads those itself.
func NullField(data []byte, t reflect.Type) (string, bool) {
	if !bytes.Contains(data, []byte("null")) {
		return "", false // most bodies: no second parse
	}
	return findInDocument(data, t, "json", func(n *yaml.Node, t reflect.Type) (found, descend bool) {
		if t.Kind() == reflect.Interface || t == rawMessageType {
			return false, false
		}
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return true, false
		}
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		return false, !reflect.PointerTo(t).Implements(textUnmarshalerType)
	})
}
