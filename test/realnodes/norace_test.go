//go:build !race

package realnodes

const raceEnabled = false
