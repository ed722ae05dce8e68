// Package validate checks Latchkey's deployment files with the tools' own
// libraries, without Docker or a cluster: the Dockerfiles with BuildKit's
// parser and build checks, docker-compose.yml with Docker Compose's loader
// (compose-go: the Compose Specification's schema, interpolation, anchors),
// and the Kubernetes manifests decoded into the
// API's Go types, refusing any field the types do not know, so that a
// misspelled or misplaced field fails here rather than in a cluster. It is
// a module of its own so that Latchkey's module does not carry those
// libraries' dependencies; .ci/run runs it.
package validate

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// TestManifestsDecodeStrictly decodes every manifest of deploy/kubernetes
// (and the Secret template) into its kind's type, unknown fields refused.
func TestManifestsDecodeStrictly(t *testing.T) {
	files, err := filepath.Glob("../kubernetes/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]func() any{
		"Deployment":          func() any { return &appsv1.Deployment{} },
		"Service":             func() any { return &corev1.Service{} },
		"ConfigMap":           func() any { return &corev1.ConfigMap{} },
		"Secret":              func() any { return &corev1.Secret{} },
		"PodDisruptionBudget": func() any { return &policyv1.PodDisruptionBudget{} },
	}
	var decoded int
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(data, []byte("\n---")) {
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			var meta struct {
				Kind string `json:"kind"`
			}
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			newObj, ok := kinds[meta.Kind]
			if !ok {
				t.Errorf("%s document %d: kind %q is not one this test knows; add its type", f, i, meta.Kind)
				continue
			}
			if err := yaml.UnmarshalStrict(doc, newObj()); err != nil {
				t.Errorf("%s document %d (%s): %v", f, i, meta.Kind, strings.TrimSpace(err.Error()))
			}
			decoded++
		}
	}
	if decoded < 5 {
		t.Fatalf("decoded %d manifests, want every one of deploy/kubernetes", decoded)
	}
}
