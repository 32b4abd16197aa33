// Package alice holds the domain of Alice Runtime: conversations, goals and
// their pure state machine, the snapshot a conversation persists, and the
// error kinds every layer speaks. It imports no actor system, store or HTTP
// package; actors/, persistence/ and httpapi/ are built around it.
package alice
