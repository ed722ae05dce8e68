// Package latchkey holds Latchkey's domain: the app document an admin declares
// (settings, OAuth configs, APIs), the installations and connections that fill
// its settings in, API keys, and the error codes every other package speaks.
//
// It does no I/O. Validate methods check a value's structure and name the
// field at fault; compiling templates and extraction paths belongs to the
// flow engine, which reports its findings with the same FieldError type.
package latchkey
