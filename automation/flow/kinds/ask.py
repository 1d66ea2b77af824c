"""`ask`: send a question and wait for a reply; rules tried in order, each may save the
answer to the contact and record a goal; an unmatched reply gets the `other` text at
most `repeat` times per visit; silence for `timeout.after` goes to `timeout.next`."""

from django import forms

from automation.flow.forms import (
    ContactFieldField,
    DurationField,
    ExitField,
    GoalField,
    RowForm,
    StepForm,
    WordsField,
    template_area,
)
from automation.flow.kinds.base import WAIT, Exit, Go, Step, StepKind
from automation.flow.matching import is_single_word, keyword_normalize, regex_problem, rule_match
from automation.flow.read import Reader, duration_parse, duration_say, duration_warning, shown
from automation.flow.whatsapp import (
    SID_FIELD,
    VARIABLES_FIELD,
    VariablesField,
    content_sid_field,
    read_whatsapp_template,
    whatsapp_template_data,
    whatsapp_template_initial,
    whatsapp_template_of,
)

WORD_MATCHES = ("keyword", "first_word", "contains")
VALUE_MATCHES = ("number", "email", "phone", "date", "any")
MATCHES = (*WORD_MATCHES, "regex", *VALUE_MATCHES)
MAX_RULES = 50
MAX_WORDS = 50
_LIST_MARKS = (",", ";", "/", "|")


def read_timeout(r: Reader) -> dict | None:
    """The optional `timeout` of a waiting step: {"after": duration, "next": step}."""
    raw = r.get("timeout", None)
    if raw is None:
        return None
    t = r.child(raw, "timeout", allowed=("after", "next"))
    return {"after": t.duration("after"), "next": t.exit("next")}


def timeout_warnings(data) -> list[tuple[str, str]]:
    """A waiting step's timeout so short it may be in the wrong unit."""
    message = duration_warning(data["timeout"]["after"]) if data.get("timeout") else None
    return [("timeout.after", message)] if message else []


def word_warning(word: str) -> str | None:
    """A keyword that holds a list (`A,B`): only that very reply fits it."""
    if any(mark in word for mark in _LIST_MARKS):
        pieces = word.replace(";", ",").replace("/", ",").replace("|", ",").split(",")
        parts = " or ".join(p for p in pieces if p)
        return (
            f"has a rule that can hardly ever match: '{word}' is one word, so only the reply "
            f"'{word}' fits it; to accept {parts}, list them as separate words"
        )
    return None


def _regex_warning(pattern: str) -> str | None:
    if pattern.startswith("^") and pattern.endswith("$"):
        return None
    return (
        f"the pattern {pattern} also fits longer replies that contain it (“10” fits [1-3]); "
        f"to take only a whole reply, write ^({pattern.lstrip('^').rstrip('$')})$"
    )


# How the diagram and the step list name a rule that takes a kind of value.
_VALUE_WORDS = {"number": "a number", "email": "an email address", "phone": "a phone number",
                "date": "a date", "any": "any reply"}  # fmt: skip

MATCH_LABELS = (
    ("", "—"),
    ("keyword", "is one of these words"),
    ("first_word", "starts with one of these words"),
    ("contains", "contains one of these words"),
    ("number", "is a number"),
    ("email", "is an email address"),
    ("phone", "is a phone number"),
    ("date", "is a date"),
    ("regex", "matches a pattern (regular expression)"),
    ("any", "is anything else"),
)


def timeout_initial(data: dict) -> dict:
    timeout = data.get("timeout") or {}
    return {"timeout_after": timeout.get("after"), "timeout_next": timeout.get("next") or ""}


def timeout_data(cleaned: dict) -> dict:
    if not cleaned.get("timeout_after"):
        return {}
    return {"timeout": {"after": cleaned["timeout_after"], "next": cleaned.get("timeout_next")}}


class RuleForm(RowForm):
    match = forms.ChoiceField(choices=MATCH_LABELS, label="When the reply")
    words = WordsField(label="Words")
    pattern = forms.CharField(required=False, max_length=500, label="Pattern")
    min = forms.FloatField(required=False, label="From")
    max = forms.FloatField(required=False, label="To")
    save_as = ContactFieldField(label="Save the answer as")
    goal = GoalField()
    next = ExitField()


class AskForm(StepForm):
    text = template_area("Question", help_text="Sent when a contact reaches this step; may be empty.")
    lists = {"rules": (RuleForm, True)}
    main_exit = "rules"
    sections = (
        ("", ["text"]),
        ("", "rules"),
        ("WhatsApp, outside the 24-hour window", [SID_FIELD, VARIABLES_FIELD]),
        ("Any other reply", ["other_text", "other_repeat", "other_next"]),
        ("Silence", ["timeout_after", "timeout_next"]),
    )
    list_labels = {"rules": "Replies (tried from the top; the first that fits wins)"}
    other_text = template_area(
        "Answer to any other reply", rows=2, help_text="E.g. “Please reply with a number from 1 to 5.”"
    )
    other_repeat = forms.IntegerField(
        min_value=0, max_value=20, initial=1, label="Times at most", help_text="Per visit of this step."
    )
    other_next = ExitField(
        label="After that, go to", help_text="“End the journey” here means: stay and stop answering."
    )
    timeout_after = DurationField(label="If there is no reply for")
    timeout_next = ExitField()
    whatsapp_template_content_sid = content_sid_field()
    whatsapp_template_variables = VariablesField()

    @classmethod
    def initial_of(cls, data):
        other = data.get("other") or {}
        initial = {
            "text": data.get("text", ""),
            "other_text": other.get("text", ""),
            "other_repeat": other.get("repeat", 1),
            "other_next": other.get("next") or "",
            **timeout_initial(data),
            **whatsapp_template_initial(data),
        }
        rules = []
        for rule in data.get("rules", ()):
            row = dict(rule)
            row["next"] = rule.get("next") or ""
            rules.append(row)
        return initial, {"rules": rules}

    def data_of(self, cleaned, rows):
        rules = []
        for row in rows["rules"]:
            rule = {"match": row["match"]}
            if row["match"] in WORD_MATCHES:
                rule["words"] = row["words"]
            elif row["match"] == "regex":
                rule["pattern"] = row["pattern"]
            elif row["match"] == "number":
                for bound in ("min", "max"):
                    if row[bound] is not None:
                        rule[bound] = int(row[bound]) if row[bound].is_integer() else row[bound]
            for key in ("save_as", "goal"):
                if row.get(key):
                    rule[key] = row[key]
            rule["next"] = row["next"]
            rules.append(rule)
        data = {"text": cleaned["text"], "rules": rules}
        if cleaned["other_text"] or cleaned["other_next"]:
            data["other"] = {
                "text": cleaned["other_text"],
                "repeat": cleaned["other_repeat"] if cleaned["other_repeat"] is not None else 1,
                "next": cleaned["other_next"],
            }
        return data | timeout_data(cleaned) | whatsapp_template_data(cleaned)


def answer_of(match: str, value, normalized: str) -> tuple[str, object]:
    """How the report counts a reply a rule took: numbers and the words of keyword rules are
    counted by value; other replies are listed as written; emails and phones are not kept
    (the contact's own fields hold them)."""
    if match == "number":
        return "number", value
    if match == "keyword":
        return "choice", normalized
    if match == "first_word":
        return "choice", normalized.split(" ", 1)[0]
    if match in ("email", "phone"):
        return "private", ""
    return "text", value


class Ask(StepKind):
    type = "ask"
    keys = ("text", "rules", "other", "timeout", "whatsapp_template")
    waits = True
    reports_answers = True
    description = "Ask and wait for a reply"
    form_class = AskForm

    def example(self) -> dict:
        return {
            "text": "How would you rate us, from 1 to 5?",
            "rules": [{"match": "number", "min": 1, "max": 5, "save_as": "attributes.score", "next": None}],
            "other": {"text": "Please reply with a number from 1 to 5.", "repeat": 1, "next": None},
            "timeout": {"after": "PT2H", "next": None},
            "whatsapp_template": {"content_sid": "HX" + "fedcba9876543210" * 2, "variables": {}},
        }

    def read(self, r: Reader) -> dict:
        rules = []
        for i, raw in enumerate(r.items("rules", most=MAX_RULES, what="rules")):
            rules.append(self._rule(r, raw, f"rules[{i}]"))
        data = {"text": r.text("text", required=False), "rules": rules}
        raw_other = r.get("other", None)
        if raw_other is not None:
            o = r.child(raw_other, "other", allowed=("text", "repeat", "next"))
            data["other"] = {
                "text": o.text("text", required=False),
                "repeat": o.integer("repeat", default=1, minimum=0),
                "next": o.exit("next", required=False),
            }
        timeout = read_timeout(r)
        if timeout is not None:
            data["timeout"] = timeout
        template = read_whatsapp_template(r)
        if template is not None:
            data["whatsapp_template"] = template
        return data

    def _rule(self, r: Reader, raw, path: str) -> dict:
        keys = ("match", "words", "pattern", "min", "max", "save_as", "goal", "next")
        rr = r.child(raw, path, allowed=keys)
        match = rr.choice("match", MATCHES)
        rule: dict = {"match": match}
        if match in WORD_MATCHES:
            words = []
            raw_words = rr.items("words", most=MAX_WORDS, what="words")
            if not raw_words:
                rr.bad("words", "list at least one word")
            for j, word in enumerate(raw_words):
                if not isinstance(word, str) or not is_single_word(word):
                    rr.bad(f"words[{j}]", f"{shown(word)} must be one word (no spaces), e.g. QUOTE")
                else:
                    words.append(word)
            rule["words"] = words
        elif match == "regex":
            pattern = rr.plain("pattern", max_length=500)
            problem = regex_problem(pattern) if pattern else "enter the regular expression"
            if problem:
                rr.bad("pattern", problem)
            rule["pattern"] = pattern
        elif match == "number":
            for bound in ("min", "max"):
                value = rr.number(bound)
                if value is not None:
                    rule[bound] = value
            if "min" in rule and "max" in rule and rule["min"] > rule["max"]:
                rr.bad("min", f"{rule['min']} is more than max {rule['max']}: this rule can never match")
        for key in ("words", "pattern", "min", "max"):
            if key in rr.raw and key not in rule:
                rr.bad(key, f"does not go with match {shown(match)}")
        save_as = rr.field_path("save_as", required=False)
        if save_as:
            rule["save_as"] = save_as
        goal = rr.goal("goal")
        if goal is not None:
            rule["goal"] = goal
        rule["next"] = rr.exit("next")
        return rule

    def exits(self, data) -> list[tuple[str, str | None]]:
        out = [
            Exit(f"rules[{i}].next", self._rule_label(rule), rule["next"], goal=rule.get("goal"))
            for i, rule in enumerate(data["rules"])
        ]
        if data.get("other") and data["other"].get("next"):
            out.append(Exit("other.next", "any other reply", data["other"]["next"]))
        if data.get("timeout"):
            label = f"no reply for {duration_say(data['timeout']['after'])}"
            out.append(Exit("timeout.next", label, data["timeout"]["next"], timed=True))
        return out

    @staticmethod
    def _rule_label(rule) -> str:
        match = rule["match"]
        if match in WORD_MATCHES:
            return " / ".join(keyword_normalize(w) for w in rule["words"])
        if match == "regex":
            return f"/{rule['pattern']}/"
        if match == "number" and ("min" in rule or "max" in rule):
            return f"number {rule.get('min', '…')} to {rule.get('max', '…')}"
        return _VALUE_WORDS.get(match, str(match))

    def keywords(self, data) -> list[tuple[str, str]]:
        return [
            (f"rules[{i}].words", w)
            for i, rule in enumerate(data["rules"])
            if rule["match"] in WORD_MATCHES
            for w in rule["words"]
        ]

    def texts(self, data) -> list[str]:
        other = data.get("other") or {}
        return [t for t in (data["text"], other.get("text", "")) if t]

    def prompt(self, data) -> str:
        return data["text"]

    def asks_for(self, data, word: str) -> bool:
        return any(
            rule["match"] in ("keyword", "first_word")
            and word in {keyword_normalize(w) for w in rule["words"]}
            for rule in data["rules"]
        )

    def warnings(self, data, *, plan):
        out = []
        for r, rule in enumerate(data["rules"]):
            for w, word in enumerate(rule.get("words", ())):
                message = word_warning(word)
                if message:
                    out.append((f"rules[{r}].words[{w}]", message))
            if rule["match"] == "regex" and rule.get("pattern"):
                message = _regex_warning(rule["pattern"])
                if message:
                    out.append((f"rules[{r}].pattern", message))
        return out + timeout_warnings(data)

    def label(self, step: Step) -> str:
        return f"Ask: {step.data['text']}" if step.data["text"] else "Wait for a reply"

    def timer_after_prompt(self, data):
        timeout = data.get("timeout")
        return duration_parse(timeout["after"], clamp=True) if timeout else None

    def enter(self, step: Step, rt):
        timeout = step.data.get("timeout")
        if step.data["text"]:
            rt.text_send(
                step=step,
                text=step.data["text"],
                purpose="prompt",
                whatsapp_template=whatsapp_template_of(step.data),
            )
            # The silence is measured from when the question is sent (messaging tells).
            rt.timer_set(None, after_prompt=duration_parse(timeout["after"], clamp=True) if timeout else None)
        elif timeout:
            rt.timer_set(rt.now + duration_parse(timeout["after"], clamp=True))
        return WAIT

    def on_reply(self, step: Step, rt):
        for rule in step.data["rules"]:
            matched, value = rule_match(rule=rule, text=rt.reply.text, normalized=rt.reply.normalized)
            if matched:
                rt.answer(*answer_of(rule["match"], value, rt.reply.normalized))
                if rule.get("save_as"):
                    rt.field_set(rule["save_as"], value)
                if rule.get("goal"):
                    rt.goal_convert(rule["goal"])
                return Go(rule["next"])
        return None

    def on_unmatched(self, step: Step, rt):
        other = step.data.get("other")
        if other is None:
            return None
        if rt.other_count < other["repeat"]:
            if other["text"]:
                rt.text_send(step=step, text=other["text"], purpose="fallback")
            rt.other_answered()
            return WAIT
        if other.get("next"):
            return Go(other["next"])
        return None

    def on_timer(self, step: Step, rt):
        timeout = step.data.get("timeout")
        return Go(timeout["next"]) if timeout else None
