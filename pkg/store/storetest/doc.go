// Package storetest is the conformance suite of store.Store: every backend
// runs RunTests against fresh stores of its own, the way dex's
// storage/conformance does, so that all backends keep the same contract
// (versions, single use, cascades, atomic writes, sentinel errors).
package storetest
