"""A generator of realistic-looking demo listings, for a site with no network to fill itself.

Everything here is invented: method names are made of syllables, titles and abstracts are
assembled from templates and word lists written for this project. The output is a JSON array
in the shape of Hugging Face's ``GET /api/daily_papers``, so it loads through the very same
parser as real listings (``paperfeed ingest daily-papers``).

arXiv ids use numbers 90000-99999 within their month: arXiv assigns ids in order and has never
had that many submissions in a month, so a demo id cannot collide with a real paper's.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from paperfeed.sources import demo_words as words


@dataclass(frozen=True, slots=True)
class Topic:
    phrase: str
    category: str
    objects: tuple[str, ...]
    settings: tuple[str, ...]
    metric: str
    problems: tuple[str, ...]


def _topics() -> list[Topic]:
    out = []
    for line in words.TOPICS:
        phrase, category, objects, settings, metric, problems = (f.strip() for f in line.split("|"))
        out.append(
            Topic(phrase, category, _alts(objects), _alts(settings), metric, _alts(problems))
        )
    return out


def _alts(field: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in field.split(";"))


_TOPICS = _topics()


def _name(rng: random.Random) -> str:
    n = rng.choice([2, 2, 3])
    return "".join(rng.choice(words.SYLLABLES) for _ in range(n)).capitalize()


class _Slots(dict[str, str]):
    """The values of one paper's template slots; ``{Slot}`` is ``{slot}`` capitalised."""

    def __missing__(self, key: str) -> str:
        value = self[key.lower()]
        return value[:1].upper() + value[1:]


def _slots(rng: random.Random, name: str, topic: Topic, tech: str) -> _Slots:
    before = rng.randint(20, 70)
    return _Slots(
        name=name,
        topic=topic.phrase,
        tech=tech,
        tech2=rng.choice([t for t in words.TECHNIQUES if t != tech]),
        object=rng.choice(topic.objects),
        setting=rng.choice(topic.settings),
        problem=rng.choice(topic.problems),
        metric=topic.metric,
        gain=str(rng.randint(3, 40)),
        saving=str(rng.randint(2, 9)),
        small=str(rng.randint(2, 8)),
        big=str(rng.randint(7, 70)),
        pct=str(rng.randint(55, 85)),
        before=f"{before}.{rng.randint(0, 9)}",
        after=f"{before + rng.randint(2, 15)}.{rng.randint(0, 9)}",
    )


def _fill(rng: random.Random, templates: list[str], slots: _Slots, topic: Topic) -> str:
    # Half the time a sentence names another object or setting of the topic than the one
    # before, as real abstracts do.
    if rng.random() < 0.5:
        slots["object"] = rng.choice(topic.objects)
    if rng.random() < 0.5:
        slots["setting"] = rng.choice(topic.settings)
    return rng.choice(templates).format_map(slots)


def _title(rng: random.Random, slots: _Slots) -> str:
    return _titlecase(rng.choice(words.TITLES).format_map(slots))


_SMALL = frozenset(words.words("a an and as at by for from in of on or the to via with is"))


def _titlecase(text: str) -> str:
    out: list[str] = []
    for i, word in enumerate(text.split(" ")):
        if i and word.lower() in _SMALL and not out[-1].endswith(("?", ":")):
            out.append(word.lower())
        else:
            out.append("-".join(w[:1].upper() + w[1:] for w in word.split("-")))
    return " ".join(out)


def _abstract(rng: random.Random, slots: _Slots, topic: Topic) -> str:
    """Two to eleven sentences: context, maybe a gap, the contribution, a few details,
    results, maybe a closing remark."""
    templates = [words.OPENERS]
    if rng.random() < 0.5:
        templates.append(words.GAPS)
    templates.append(words.CONTRIBUTIONS)
    templates += [[d] for d in rng.sample(words.DETAILS, k=rng.choice([0, 1, 1, 2, 2, 3, 4, 5]))]
    templates += [[r] for r in rng.sample(words.RESULTS, k=rng.choice([0, 1, 1, 2, 3]))]
    if rng.random() < 0.6:
        templates.append(words.CLOSINGS)
    return " ".join(_fill(rng, t, slots, topic) for t in templates)


def _paper_text(rng: random.Random) -> tuple[str, str, str, str]:
    """A paper's name, title, abstract and arXiv category."""
    topic = rng.choice(_TOPICS)
    tech = rng.choice(words.TECHNIQUES)
    name = _name(rng)
    slots = _slots(rng, name, topic, tech)
    return name, _title(rng, slots), _abstract(rng, slots, topic), topic.category


def _authors(rng: random.Random) -> list[dict[str, Any]]:
    """One to a few dozen authors: most papers have a handful, a few are large collaborations."""
    count = min(60, int(rng.paretovariate(1.2) * 2.5) - 1)
    return [
        {"name": f"{rng.choice(words.FIRST_NAMES)} {rng.choice(words.LAST_NAMES)}", "hidden": False}
        for _ in range(max(1, count))
    ]


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def generate_listings(
    today: dt.date, days: int = 21, seed: int = 20261129, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Daily Papers API items for the weekdays of the last ``days`` days up to ``today``."""
    rng = random.Random(seed)
    now = now or dt.datetime.combine(today, dt.time(23, 59))
    counters: dict[str, int] = {}
    titles: set[str] = set()
    items: list[dict[str, Any]] = []
    for offset in range(days - 1, -1, -1):
        day = today - dt.timedelta(days=offset)
        if day.weekday() >= 5:  # arXiv announces nothing at weekends; neither does the feed
            continue
        for _ in range(rng.randint(12, 24)):
            items.append(_item(rng, day, now, counters, titles))
    return items


def _item(
    rng: random.Random,
    day: dt.date,
    now: dt.datetime,
    counters: dict[str, int],
    titles: set[str],
) -> dict[str, Any]:
    """One listing of ``day``: a paper, as the Daily Papers API would list it (its title
    not one of ``titles`` before; added to them)."""
    name, title, abstract, category = _paper_text(rng)
    while title in titles:
        name, title, abstract, category = _paper_text(rng)
    titles.add(title)
    published = dt.datetime.combine(
        day - dt.timedelta(days=rng.randint(1, 3)),
        dt.time(rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)),
    )
    month = published.strftime("%y%m")
    counters[month] = counters.get(month, rng.randint(90000, 90999)) + rng.randint(1, 7)
    submitted = dt.datetime.combine(
        day, dt.time(rng.randint(0, 14), rng.randint(0, 59), rng.randint(0, 59))
    )
    if submitted > now:
        submitted = now - dt.timedelta(minutes=rng.randint(1, 120))
    paper: dict[str, Any] = {
        "id": f"{month}.{min(counters[month], 99999):05d}",
        "authors": _authors(rng),
        "publishedAt": _iso(published),
        "submittedOnDailyAt": _iso(submitted),
        "title": title,
        "summary": abstract,
        "upvotes": 0 if rng.random() < 0.08 else min(400, int(rng.paretovariate(1.1) * 3)),
        "categories": [category, rng.choice(["cs.AI", "cs.LG", "stat.ML"])],
    }
    if rng.random() < 0.45:
        paper["githubRepo"] = f"https://github.com/{rng.choice(words.LABS)}/{name.lower()}"
        paper["githubStars"] = int(rng.paretovariate(0.9) * 20)
    if rng.random() < 0.3:
        paper["projectPage"] = f"https://example.org/{name.lower()}"
    item: dict[str, Any] = {
        "paper": paper,
        "publishedAt": paper["submittedOnDailyAt"],
        "title": title,
        "summary": abstract,
        "numComments": rng.choice([0, 0, 0, 1, 2, 3, 5]),
    }
    if rng.random() < 0.5:
        item["submittedBy"] = {"user": rng.choice(words.USERS), "fullname": "", "type": "user"}
    return item
