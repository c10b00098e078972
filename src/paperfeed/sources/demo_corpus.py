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
from typing import Any

_SYLLABLES = [
    "lu",
    "mi",
    "ra",
    "to",
    "ve",
    "qu",
    "zen",
    "ka",
    "so",
    "pho",
    "nyx",
    "ar",
    "dex",
    "li",
    "mo",
    "tri",
    "ion",
    "ze",
    "ta",
    "flo",
    "gri",
    "ax",
    "or",
    "be",
    "cor",
    "sy",
    "pi",
    "vo",
]
_TOPICS = [
    ("long-context language models", "cs.CL"),
    ("diffusion transformers for image synthesis", "cs.CV"),
    ("robot manipulation from demonstrations", "cs.RO"),
    ("protein structure prediction", "q-bio.BM"),
    ("text-to-video generation", "cs.CV"),
    ("autonomous coding agents", "cs.SE"),
    ("mixture-of-experts routing", "cs.LG"),
    ("speculative decoding", "cs.CL"),
    ("3D scene reconstruction", "cs.CV"),
    ("multilingual speech recognition", "eess.AS"),
    ("reinforcement learning from verifiable rewards", "cs.LG"),
    ("retrieval-augmented generation", "cs.IR"),
    ("vision-language reasoning", "cs.CV"),
    ("mathematical reasoning in small models", "cs.AI"),
    ("weather forecasting with neural operators", "physics.ao-ph"),
    ("privacy-preserving federated training", "cs.CR"),
    ("tabular foundation models", "cs.LG"),
    ("embodied navigation", "cs.RO"),
    ("quantised inference on edge devices", "cs.AR"),
    ("scientific literature mining", "cs.DL"),
]
_TECHNIQUES = [
    "sparse attention",
    "contrastive pretraining",
    "curriculum distillation",
    "latent planning",
    "token merging",
    "preference optimisation",
    "state-space layers",
    "test-time scaling",
    "self-play",
    "synthetic data bootstrapping",
    "low-rank adapters",
    "flow matching",
    "graph message passing",
    "hierarchical memory",
    "uncertainty-aware decoding",
]
_BENCHMARKS = [
    "seven public benchmarks",
    "a new benchmark of 12k tasks",
    "three standard suites",
    "real-world deployments",
    "held-out domains",
    "both simulated and physical settings",
]
_OPENERS = [
    "Progress in {topic} is limited by the cost of {pain}.",
    "Despite rapid advances, {topic} remains brittle when {pain}.",
    "Most recent work on {topic} assumes {pain}, which rarely holds in practice.",
    "Scaling {topic} has so far required {pain}.",
]
_PAINS = [
    "collecting labelled data",
    "long inference chains",
    "distribution shift at test time",
    "quadratic memory growth",
    "hand-tuned reward functions",
    "expensive human feedback",
    "large clusters of accelerators",
    "noisy supervision",
]
_MIDDLES = [
    "We introduce {name}, a framework that combines {tech} with {tech2}.",
    "We present {name}, which replaces the usual pipeline with {tech}.",
    "This paper proposes {name}: {tech} guided by {tech2}.",
]
_DETAILS = [
    "The key idea is to reuse intermediate computation instead of recomputing it at every step.",
    "A lightweight controller decides when to spend more compute and when to stop early.",
    "Training needs no additional annotations and runs on a single node.",
    "We also release an open implementation and the evaluation harness.",
    "An analysis of failure cases shows where the remaining errors come from.",
    "Ablations isolate the contribution of each component.",
]
_RESULTS = [
    "Across {bench}, {name} improves accuracy by {gain}% while using {saving}x less compute.",
    "On {bench}, {name} matches models ten times its size.",
    "Experiments on {bench} show gains of up to {gain}% over strong baselines.",
]
_FIRST = [
    "Alex",
    "Bea",
    "Chen",
    "Dana",
    "Eli",
    "Farah",
    "Goran",
    "Hana",
    "Ivo",
    "Jia",
    "Kofi",
    "Lena",
    "Mateo",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rui",
    "Sana",
    "Tomas",
    "Uma",
    "Viktor",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zoe",
]
_LAST = [
    "Abara",
    "Berg",
    "Castell",
    "Dimitrov",
    "Eze",
    "Fontaine",
    "Gupta",
    "Haddad",
    "Ito",
    "Jansen",
    "Kowalczyk",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quispe",
    "Rossi",
    "Sato",
    "Tanaka",
    "Ueda",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zhang",
]
_LABS = ["demo-lab", "open-paper-lab", "sample-research", "example-ai"]
_USERS = ["ada", "basil", "cyra", "dev_ops", "elio"]


def _name(rng: random.Random) -> str:
    n = rng.choice([2, 2, 3])
    return "".join(rng.choice(_SYLLABLES) for _ in range(n)).capitalize()


def _title(rng: random.Random, name: str, topic: str, tech: str) -> str:
    pattern = rng.choice(
        [
            "{name}: {Tech} for {topic}",
            "{name}: Scaling {topic} with {tech}",
            "Rethinking {topic} through {tech}",
            "{name}: Efficient {topic} via {tech}",
            "When Does {Tech} Help {Topic}?",
        ]
    )
    return _titlecase(pattern.format(name=name, topic=topic, tech=tech, Tech=tech, Topic=topic))


_SMALL = {
    "a",
    "an",
    "and",
    "as",
    "at",
    "by",
    "for",
    "from",
    "in",
    "of",
    "on",
    "or",
    "the",
    "to",
    "via",
    "with",
}


def _titlecase(text: str) -> str:
    words = text.split(" ")
    out = []
    for i, word in enumerate(words):
        if i and word.lower() in _SMALL:
            out.append(word.lower())
        else:
            out.append("-".join(w[:1].upper() + w[1:] for w in word.split("-")))
    return " ".join(out)


def _abstract(rng: random.Random, name: str, topic: str, tech: str) -> str:
    tech2 = rng.choice([t for t in _TECHNIQUES if t != tech])
    parts = [
        rng.choice(_OPENERS).format(topic=topic, pain=rng.choice(_PAINS)),
        rng.choice(_MIDDLES).format(name=name, tech=tech, tech2=tech2),
        *rng.sample(_DETAILS, k=2),
        rng.choice(_RESULTS).format(
            bench=rng.choice(_BENCHMARKS),
            name=name,
            gain=rng.randint(3, 40),
            saving=rng.randint(2, 9),
        ),
    ]
    return " ".join(parts)


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def generate_listings(
    today: dt.date, days: int = 21, seed: int = 20261129, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Daily Papers API items for the weekdays of the last ``days`` days up to ``today``."""
    rng = random.Random(seed)
    now = now or dt.datetime.combine(today, dt.time(23, 59))
    counters: dict[str, int] = {}
    items: list[dict[str, Any]] = []
    for offset in range(days - 1, -1, -1):
        day = today - dt.timedelta(days=offset)
        if day.weekday() >= 5:  # arXiv announces nothing at weekends; neither does the feed
            continue
        for _ in range(rng.randint(12, 24)):
            topic, category = rng.choice(_TOPICS)
            tech = rng.choice(_TECHNIQUES)
            name = _name(rng)
            published = dt.datetime.combine(
                day - dt.timedelta(days=rng.randint(1, 3)),
                dt.time(rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)),
            )
            month = published.strftime("%y%m")
            counters[month] = counters.get(month, rng.randint(90000, 90999)) + rng.randint(1, 7)
            arxiv_id = f"{month}.{min(counters[month], 99999):05d}"
            submitted = dt.datetime.combine(
                day, dt.time(rng.randint(0, 14), rng.randint(0, 59), rng.randint(0, 59))
            )
            if submitted > now:
                submitted = now - dt.timedelta(minutes=rng.randint(1, 120))
            upvotes = 0 if rng.random() < 0.08 else min(400, int(rng.paretovariate(1.1) * 3))
            authors = [
                {"name": f"{rng.choice(_FIRST)} {rng.choice(_LAST)}", "hidden": False}
                for _ in range(rng.randint(2, 11))
            ]
            paper: dict[str, Any] = {
                "id": arxiv_id,
                "authors": authors,
                "publishedAt": _iso(published),
                "submittedOnDailyAt": _iso(submitted),
                "title": _title(rng, name, topic, tech),
                "summary": _abstract(rng, name, topic, tech),
                "upvotes": upvotes,
                "categories": [category, rng.choice(["cs.AI", "cs.LG", "stat.ML"])],
            }
            if rng.random() < 0.45:
                paper["githubRepo"] = f"https://github.com/{rng.choice(_LABS)}/{name.lower()}"
                paper["githubStars"] = int(rng.paretovariate(0.9) * 20)
            if rng.random() < 0.3:
                paper["projectPage"] = f"https://example.org/{name.lower()}"
            item: dict[str, Any] = {
                "paper": paper,
                "publishedAt": paper["submittedOnDailyAt"],
                "title": paper["title"],
                "summary": paper["summary"],
                "numComments": rng.choice([0, 0, 0, 1, 2, 3, 5]),
            }
            if rng.random() < 0.5:
                item["submittedBy"] = {"user": rng.choice(_USERS), "fullname": "", "type": "user"}
            items.append(item)
    return items
