//go:build race

package realnodes

const raceEnabled = true
