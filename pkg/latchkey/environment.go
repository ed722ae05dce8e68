package latchkey

import (
	"context"
	"time"
)

// Environment names a namespace of Latchkey's data: apps, org
// installations and their values, connections and their tokens, links,
// states, API keys, webhooks and their deliveries, and audit events each
// belong to exactly one, and nothing of one is visible from another. Its
// name follows NameRule.
type Environment string

// The environments a fresh Latchkey starts with.
const (
	// EnvDev is the environment of development: the default of API keys
	// and CLI commands that name none, and the one the migration that
	// introduced environments placed every existing row in.
	EnvDev Environment = "dev"
	// EnvProd is the environment of production.
	EnvProd Environment = "prod"
)

// DefaultEnvironment is the environment used when none is named: by the
// CLI without --env or LATCHKEY_ENV, by API keys created without one, and
// by admin sessions that pick none.
const DefaultEnvironment = EnvDev

// LegacyEnvironment is the environment migration 00016 placed the rows of
// a database from before environments in. Its sealed values keep the
// associated data they were sealed with (which names no environment), so
// no value had to be re-sealed; every other environment's values name it.
const LegacyEnvironment = EnvDev

// Valid reports whether env is a well-formed environment name (NameRule).
func (env Environment) Valid() bool { return ValidName(string(env)) }

// EnvironmentInfo describes an environment: its name and, when set, the
// public URL of its own host (for deployments that give production a host
// of its own), used for its links and its callback instead of the server's.
type EnvironmentInfo struct {
	Name      Environment `json:"name"`
	PublicURL string      `json:"public_url,omitempty"`
	CreatedAt time.Time   `json:"created_at"`
}

type envKey struct{}

// WithEnvironment returns ctx saying that what is done with it is done in
// env: the store reads and writes only env's rows under it.
func WithEnvironment(ctx context.Context, env Environment) context.Context {
	return context.WithValue(ctx, envKey{}, env)
}

// EnvironmentFrom returns the environment ctx says, or "" when it says
// none.
func EnvironmentFrom(ctx context.Context) Environment {
	env, _ := ctx.Value(envKey{}).(Environment)
	return env
}
