"""The infrastructure every app shares, below all of them (docs/architecture.md §4): it
imports no app, and importing it creates nothing (the Celery app lives in the project
package, `smsjourney`, which wires the apps together).

- ``admin_mixins``: admin pieces (read-only inlines, the test-contacts filter);
- ``background``: work off the request path without a broker (the in-process scheduler);
- ``broker``: the Redis transport with priorities;
- ``cron``: the periodic jobs' cross-process lock;
- ``environment``: where the configuration comes from (the environment, then an env file);
- ``strict_json``: JSON parsed strictly (no NaN, bounded depth, no NUL or lone surrogates);
- ``twilio_webhooks``: the signature check of Twilio's webhooks;
- ``uploads``: request and upload size limits enforced before a body is read.
"""
