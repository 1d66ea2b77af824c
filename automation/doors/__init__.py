"""The doors outside callers use (docs/architecture.md §4): Twilio's webhooks, the contact
and events APIs, the tracked-link redirect, and their URLs. Thin: each parses, calls one
engine service and answers; the engine never uses them."""
