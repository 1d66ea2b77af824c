"""Carrier compliance keywords (CONTRACT §5). Matched against the whole normalised reply."""

OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})

# Words a plan may never use as a keyword: they always mean opt-out or help.
RESERVED_KEYWORDS = OPT_OUT_KEYWORDS | HELP_KEYWORDS
