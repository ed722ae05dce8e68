// Package deploy_test checks the deployment files (the Dockerfile, the
// compose file, the load balancer and the Kubernetes manifests) without
// Docker or a cluster: each parses, names only images built here or
// PostgreSQL, and wires what the README promises (two replicas behind the
// balancer, health checks, probes, the key from a Secret).
package deploy_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// postgresImage is the one image the files may name without building it.
var postgresImage = regexp.MustCompile(`^postgres(:[A-Za-z0-9._-]+)?(@sha256:[0-9a-f]{64})?$`)

// localImage is the name of an image built here: no registry host, no
// Docker Hub account, so it can only be the local build.
var localImage = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*(:[A-Za-z0-9._-]+)?$`)

// readYAML decodes every document of a YAML file.
func readYAML(tb testing.TB, path string) []map[string]any {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
	if len(docs) == 0 {
		tb.Fatalf("%s: no YAML document", path)
	}
	return docs
}

// at walks a decoded YAML value by keys and indexes ("spec", "template", 0).
func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string { s, _ := at(v, path...).(string); return s }

func list(v any, path ...any) []any { l, _ := at(v, path...).([]any); return l }

// latchkeyVariables are the variables Latchkey reads, as the example
// environment lists them (set or commented out).
func latchkeyVariables(tb testing.TB) map[string]bool {
	tb.Helper()
	data, err := os.ReadFile("../configs/latchkey.example.env")
	if err != nil {
		tb.Fatal(err)
	}
	vars := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#? ?(LATCHKEY_[A-Z_]+)=`).FindAllStringSubmatch(string(data), -1) {
		vars[m[1]] = true
	}
	if len(vars) < 6 {
		tb.Fatalf("configs/latchkey.example.env: got %d variables, want the whole list", len(vars))
	}
	return vars
}

// service is a compose service as the checks need it.
type service struct {
	name string
	spec map[string]any
}

func (s service) build() (context, dockerfile string, ok bool) {
	switch b := s.spec["build"].(type) {
	case string:
		return b, "Dockerfile", true
	case map[string]any:
		context, dockerfile = str(b, "context"), str(b, "dockerfile")
		if dockerfile == "" {
			dockerfile = "Dockerfile"
		}
		return context, dockerfile, true
	}
	return "", "", false
}

func composeServices(tb testing.TB) []service {
	tb.Helper()
	doc := readYAML(tb, "../docker-compose.yml")[0]
	m, _ := doc["services"].(map[string]any)
	var out []service
	for name, spec := range m {
		s, _ := spec.(map[string]any)
		out = append(out, service{name, s})
	}
	slices.SortFunc(out, func(a, b service) int { return strings.Compare(a.name, b.name) })
	if len(out) == 0 {
		tb.Fatal("docker-compose.yml: no services")
	}
	return out
}

// The compose file names only images built here (from a Dockerfile in this
// repository) or PostgreSQL.
func TestComposeNamesOnlyImagesBuiltHereOrPostgres(t *testing.T) {
	for _, s := range composeServices(t) {
		image := str(s.spec, "image")
		context, dockerfile, built := s.build()
		switch {
		case built:
			if _, err := os.Stat(filepath.Join("..", context, dockerfile)); err != nil {
				t.Errorf("service %s: builds from %s/%s, which is not in the repository: %v", s.name, context, dockerfile, err)
			}
			if image != "" && !localImage.MatchString(image) {
				t.Errorf("service %s: names its build %q, want a local name (no registry, no account) so no pull can replace it", s.name, image)
			}
		case !postgresImage.MatchString(image):
			t.Errorf("service %s: image %q is neither built here nor PostgreSQL", s.name, image)
		}
	}
}

// Two Latchkey replicas built from the Dockerfile, with health checks,
// behind a balancer built here that sends to both; every service has a
// health check, and no Latchkey runs from source.
func TestComposeTopology(t *testing.T) {
	services := composeServices(t)
	vars := latchkeyVariables(t)
	var replicas []string
	var lb *service
	for i, s := range services {
		if s.spec["healthcheck"] == nil {
			t.Errorf("service %s: no healthcheck", s.name)
		}
		context, _, built := s.build()
		if strings.Contains(strings.Join(stringsOf(list(s.spec, "command")), " "), "go run") {
			t.Errorf("service %s: runs go run; want the built image", s.name)
		}
		switch {
		case built && filepath.Clean(context) == ".":
			replicas = append(replicas, s.name)
			if test := strings.Join(stringsOf(list(s.spec, "healthcheck", "test")), " "); !strings.Contains(test, "latchkey healthcheck") {
				t.Errorf("service %s: healthcheck %q, want latchkey healthcheck", s.name, test)
			}
			if str(s.spec, "depends_on", "postgres", "condition") != "service_healthy" {
				t.Errorf("service %s: want it to wait for a healthy postgres", s.name)
			}
			if s.spec["ports"] != nil {
				t.Errorf("service %s: publishes ports; want only the balancer reachable", s.name)
			}
			env, _ := s.spec["environment"].(map[string]any)
			for name := range env {
				if strings.HasPrefix(name, "LATCHKEY_") && !vars[name] {
					t.Errorf("service %s: %s is not a variable Latchkey reads (configs/latchkey.example.env)", s.name, name)
				}
			}
			if !strings.HasPrefix(str(env, "LATCHKEY_DATABASE_URL"), "postgres://") {
				t.Errorf("service %s: LATCHKEY_DATABASE_URL %q, want the PostgreSQL service", s.name, str(env, "LATCHKEY_DATABASE_URL"))
			}
		case built:
			lb = &services[i]
		}
	}
	if len(replicas) != 2 {
		t.Fatalf("got Latchkey replicas %v, want two built from the Dockerfile", replicas)
	}
	if lb == nil {
		t.Fatal("no load balancer built here")
	}
	if len(list(lb.spec, "ports")) == 0 {
		t.Errorf("balancer %s: publishes no port", lb.name)
	}
	context, _, _ := lb.build()
	conf, err := os.ReadFile(filepath.Join("..", context, "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	upstream := regexp.MustCompile(`(?m)^\s*server\s+([a-z0-9-]+):8080\b`)
	var sends []string
	for _, m := range upstream.FindAllStringSubmatch(string(conf), -1) {
		sends = append(sends, m[1])
	}
	if !slices.Equal(sends, replicas) {
		t.Errorf("balancer: sends to %v, want the replicas %v", sends, replicas)
	}
	for _, r := range replicas {
		if str(lb.spec, "depends_on", r, "condition") != "service_healthy" {
			t.Errorf("balancer: want it to wait for a healthy %s", r)
		}
		env, _ := services[slices.IndexFunc(services, func(s service) bool { return s.name == r })].spec["environment"].(map[string]any)
		if got, want := str(env, "LATCHKEY_TRUSTED_PROXIES"), str(lb.spec, "networks", "latchkey", "ipv4_address"); got == "" || got != want {
			t.Errorf("service %s: trusts proxies %q, want the balancer's address %q", r, got, want)
		}
	}
}

func stringsOf(l []any) []string {
	out := make([]string, 0, len(l))
	for _, v := range l {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

// The image is the release build: the Dockerfile runs .ci/build, the
// script CI runs too, and the runtime stage runs as a non-root user.
func TestDockerfileRunsTheReleaseBuild(t *testing.T) {
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := regexp.MustCompile(`\\\n\s*`).ReplaceAllString(string(data), " ")
	var stages [][]string // the instructions of each stage
	for _, line := range strings.Split(df, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], line)
		}
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile: got %d stages, want a build stage and a runtime stage", len(stages))
	}
	var builds int
	for _, stage := range stages {
		for _, ins := range stage {
			if strings.HasPrefix(ins, "RUN ") && strings.Contains(ins, ".ci/build") {
				builds++
			}
			if strings.HasPrefix(ins, "RUN ") && strings.Contains(ins, "go build") {
				t.Errorf("Dockerfile: %q builds on its own; want .ci/build, the script CI runs", ins)
			}
		}
	}
	if builds != 1 {
		t.Errorf("Dockerfile: got %d RUN .ci/build, want 1", builds)
	}
	runtime := stages[len(stages)-1]
	var user string
	for _, ins := range runtime {
		if u, ok := strings.CutPrefix(ins, "USER "); ok {
			user = u
		}
	}
	if uid, _, _ := strings.Cut(user, ":"); user == "" || uid == "0" || uid == "root" {
		t.Errorf("Dockerfile: the runtime stage runs as %q, want a non-root user", user)
	}
	if !slices.ContainsFunc(runtime, func(s string) bool { return strings.HasPrefix(s, "HEALTHCHECK ") && strings.Contains(s, "healthcheck") }) {
		t.Error("Dockerfile: the runtime stage has no HEALTHCHECK running latchkey healthcheck")
	}
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	goArg := regexp.MustCompile(`(?m)^ARG GO_VERSION=(\S+)$`).FindStringSubmatch(df)
	if goLine == nil || goArg == nil {
		t.Error("Dockerfile or go.mod: no Go version (ARG GO_VERSION=…, go …)")
	} else if goArg[1] != string(goLine[1]) {
		t.Errorf("Dockerfile: builds with Go %s, want go.mod's %s", goArg[1], goLine[1])
	}
	ci, err := os.ReadFile("../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ci), ".ci/build") {
		t.Error(".ci/run does not run .ci/build, so CI would not build the binary as the image does")
	}
}

// The Kubernetes manifests: two replicas of the one image built here,
// readiness on /readyz and liveness on /healthz, the encryption key and the
// database password from the Secret, the database URL from the ConfigMap,
// and a Secret template holding no secret.
func TestKubernetesManifests(t *testing.T) {
	dir := "kubernetes"
	kust := readYAML(t, filepath.Join(dir, "kustomization.yaml"))[0]
	built := map[string]bool{}
	for _, img := range list(kust, "images") {
		built[str(img, "name")] = true
		if n := str(img, "newName"); n != "" && !strings.HasSuffix(n, "/latchkey") {
			t.Errorf("kustomization.yaml: image %s becomes %s, want the image built here (…/latchkey)", str(img, "name"), n)
		}
	}
	byKind := map[string][]map[string]any{}
	for _, r := range stringsOf(list(kust, "resources")) {
		if strings.Contains(r, "secret") {
			t.Errorf("kustomization.yaml: applies %s; the Secret is the operator's, never in the repository", r)
		}
		for _, doc := range readYAML(t, filepath.Join(dir, r)) {
			if str(doc, "apiVersion") == "" || str(doc, "kind") == "" || str(doc, "metadata", "name") == "" {
				t.Errorf("%s: a document without apiVersion, kind or metadata.name", r)
			}
			byKind[str(doc, "kind")] = append(byKind[str(doc, "kind")], doc)
		}
	}
	for _, kind := range []string{"Deployment", "Service", "ConfigMap"} {
		if len(byKind[kind]) != 1 {
			t.Fatalf("got %d %s, want 1", len(byKind[kind]), kind)
		}
	}
	dep, svc, cm := byKind["Deployment"][0], byKind["Service"][0], byKind["ConfigMap"][0]
	if r, _ := at(dep, "spec", "replicas").(int); r != 2 {
		t.Errorf("Deployment: got %v replicas, want 2", at(dep, "spec", "replicas"))
	}
	pod := at(dep, "spec", "template")
	if at(pod, "spec", "securityContext", "runAsNonRoot") != true {
		t.Error("Deployment: want runAsNonRoot")
	}
	for k, v := range at(svc, "spec", "selector").(map[string]any) {
		if at(pod, "metadata", "labels", k) != v {
			t.Errorf("Service: selects %s=%v, which the pods do not carry", k, v)
		}
	}
	containers := list(pod, "spec", "containers")
	if len(containers) != 1 {
		t.Fatalf("Deployment: got %d containers, want 1", len(containers))
	}
	c := containers[0]
	if !built[str(c, "image")] {
		t.Errorf("Deployment: image %q, want the one built here (kustomization.yaml's images)", str(c, "image"))
	}
	if got := str(c, "readinessProbe", "httpGet", "path"); got != "/readyz" {
		t.Errorf("readiness probe: got %q, want /readyz", got)
	}
	if got := str(c, "livenessProbe", "httpGet", "path"); got != "/healthz" {
		t.Errorf("liveness probe: got %q, want /healthz", got)
	}
	fromSecret := map[string]string{}
	for _, e := range list(c, "env") {
		if ref := at(e, "valueFrom", "secretKeyRef"); ref != nil {
			fromSecret[str(e, "name")] = str(ref, "key")
		} else if strings.HasPrefix(str(e, "name"), "LATCHKEY_") {
			t.Errorf("Deployment: %s is set in the manifest; want configuration in the ConfigMap, secrets from the Secret", str(e, "name"))
		}
	}
	for _, name := range []string{"LATCHKEY_ENCRYPTION_KEY", "PGPASSWORD"} {
		if fromSecret[name] == "" {
			t.Errorf("Deployment: %s does not come from the Secret", name)
		}
	}
	if str(c, "envFrom", 0, "configMapRef", "name") != str(cm, "metadata", "name") {
		t.Error("Deployment: does not read the ConfigMap (envFrom)")
	}
	vars := latchkeyVariables(t)
	data, _ := cm["data"].(map[string]any)
	for name := range data {
		if !vars[name] {
			t.Errorf("ConfigMap: %s is not a variable Latchkey reads (configs/latchkey.example.env)", name)
		}
	}
	db := str(cm, "data", "LATCHKEY_DATABASE_URL")
	if !strings.HasPrefix(db, "postgres://") {
		t.Errorf("ConfigMap: LATCHKEY_DATABASE_URL %q, want a PostgreSQL URL", db)
	}
	if user, _, _ := strings.Cut(strings.TrimPrefix(db, "postgres://"), "@"); strings.Contains(user, ":") {
		t.Error("ConfigMap: LATCHKEY_DATABASE_URL holds a password; want it from the Secret (PGPASSWORD)")
	}

	secret := readYAML(t, filepath.Join(dir, "secret.example.yaml"))[0]
	values, _ := secret["stringData"].(map[string]any)
	for _, key := range fromSecret {
		if _, ok := values[key]; !ok {
			t.Errorf("secret.example.yaml: no %s, which the Deployment reads", key)
		}
	}
	for key, v := range values {
		if s, _ := v.(string); !strings.HasPrefix(s, "REPLACE") {
			t.Errorf("secret.example.yaml: %s holds %q; want a REPLACE placeholder, never a value", key, s)
		}
	}
}
