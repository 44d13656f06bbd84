"""Rank papers for readers, find similar papers, and say why each was picked.

This module owns the Django side of ranking: what each reader has told us (folded in fresh on every
call, so votes cast since the last training count at once and brand-new users are ranked without
a retrain), their topics' category and keyword/author rules, and the human-readable reason for each
pick. Each topic is ranked as its own profile: one fold-in row per topic (``rows.py``), every row of a
call scored together, whether the caller asks by topic (``recommend_for_topics``: the digest, a topic's
For you) or by reader (``recommend_for_users``: each reader's default topic).
Scoring itself is ``HybridRecommender.recommend_for_rows`` over cached ``PreparedCandidates``;
before any model is trained the content-only ranker (``ranking.content_only``) keeps the service
useful from the first vote. Search, similar papers and both rankers read papers through one encoder
(``content_encoder``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..models import TOPIC_TRENDING_WEIGHT_DEFAULT, Paper, Topic
from ..papers import search as paper_search
from ..ranking import REASON_TRENDING
from ..ranking.content import ContentEncoder
from ..ranking.content_only import content_only_rank
from ..ranking.selection import first_positions
from ..ranking.weights import KIND_WEIGHTS, NEGATIVE_KINDS
from ..subscriptions.topics import topics_for_users
from ..training.dataset import paper_text
from . import active, candidates
from .active import ActiveModel, active_model
from .candidates import Candidates, candidate_ids_default, load_candidates, matching_term, model_columns, prepared_for
from .rows import Row, RowInputs, rows_inputs, trending_scale

DIVERSITY = 0.3

VERBS = {"save": "saved", "upvote": "upvoted", "thumbs_up": "liked", "click": "opened"}


@dataclass(frozen=True)
class Recommendation:
    paper_id: int
    score: float
    reason: str


def reset_cache() -> None:
    """Forget everything this process cached: the model, candidate work, the semantic indexes.

    The indexes are keyed by (archive state, encoder); an archive state can recur in another data set
    (e.g. SQLite ids after a rolled-back test), so a reset must drop them too.
    """
    active.forget()
    candidates.forget()
    paper_search.semantic_index_reset()


def warm_up() -> bool:
    """Load the active model and prepare the default candidates now (at process start); True if a model serves.

    Called by ``digest_site/wsgi.py``: the first For you of a fresh worker then costs what every
    later one does. Failures are logged by ``active.warm_up``; without a model nothing is prepared.
    """
    if not active.warm_up():
        return False
    served = active_model()
    cands = load_candidates(candidate_ids_default())
    if served is not None and len(cands.ids):
        prepared_for(served, model_columns(served, cands.ids), cands.texts, diversity=DIVERSITY)
    return True


# --- recommend ------------------------------------------------------------------------


def recommend_for_users(
    *,
    user_ids: list[int],
    candidate_ids: list[int] | None = None,
    n: int = 10,
    exclude_ids: dict[int, set[int]] | None = None,
) -> dict[int, list[Recommendation]]:
    """Rank candidates for each user's default topic: model + trending prior + its rules; reasons included.

    Papers the user rated, hid or opened (under any topic) are excluded, as are ``exclude_ids`` (e.g.
    already sent), papers outside the topic's categories (when it has some) and papers matching its
    exclude keywords/authors. A user without a topic yet is ranked on every vote with no rules.
    """
    user_ids = [int(u) for u in user_ids]
    if not user_ids:
        return {}
    topics = topics_for_users(user_ids=user_ids)
    exclude_ids = exclude_ids or {}
    rows = [
        Row(
            user_id=uid,
            topic=topics[uid][0] if uid in topics else None,
            named=len(topics.get(uid, ())) > 1,
            trending_weight=topics[uid][0].trending_weight if uid in topics else TOPIC_TRENDING_WEIGHT_DEFAULT,
            exclude=frozenset(exclude_ids.get(uid, ())),
        )
        for uid in user_ids
    ]
    return dict(zip(user_ids, _recommend_rows(rows, candidate_ids=candidate_ids, n=n), strict=True))


def recommend_for_topics(
    *,
    topic_ids: list[int],
    candidate_ids: list[int] | None = None,
    n: int = 10,
    exclude_ids: dict[int, set[int]] | None = None,
    trending_weights: dict[int, float] | None = None,
    users_topics: dict[int, list[Topic]] | None = None,
) -> dict[int, list[Recommendation]]:
    """Rank candidates for each topic as its own profile: one fold-in row per topic, all in one scoring call.

    A topic's row folds in the votes cast under it and the reader's account-wide ones, applies its
    filters and weighs trending by its dial (``trending_weights`` overrides the stored dial, e.g. for a
    preview of an unsaved slider). ``exclude_ids`` is keyed by topic id; what the reader acted on under
    any topic is always excluded. Topic ids that do not exist get an empty list. ``users_topics`` (user id
    -> every topic of that user, as ``topics_for_users`` gives it) saves reading them again when the caller
    has them: the plan phase loads them for its whole chunk.
    """
    topic_ids = list(dict.fromkeys(int(t) for t in topic_ids))
    if users_topics is None:
        found = {t.pk: t for t in Topic.objects.filter(pk__in=topic_ids)}
        counts = Counter(
            Topic.objects.filter(user_id__in={t.user_id for t in found.values()}).values_list("user_id", flat=True)
        )
    else:
        found = {t.pk: t for topics in users_topics.values() for t in topics}
        counts = Counter({uid: len(topics) for uid, topics in users_topics.items()})
    exclude_ids, trending_weights = exclude_ids or {}, trending_weights or {}
    rows = [
        Row(
            user_id=topic.user_id,
            topic=topic,
            named=counts[topic.user_id] > 1,
            trending_weight=trending_weights.get(tid, topic.trending_weight),
            exclude=frozenset(exclude_ids.get(tid, ())),
        )
        for tid, topic in ((tid, found[tid]) for tid in topic_ids if tid in found)
    ]
    ranked = dict(
        zip((row.topic.pk for row in rows), _recommend_rows(rows, candidate_ids=candidate_ids, n=n), strict=True)
    )
    return {tid: ranked.get(tid, []) for tid in topic_ids}


def _recommend_rows(rows: list[Row], *, candidate_ids: list[int] | None, n: int) -> list[list[Recommendation]]:
    """The one ranking path: every row folded in and scored in one call (the model's, or content-only)."""
    if not rows:
        return []
    cands = load_candidates(candidate_ids if candidate_ids is not None else candidate_ids_default())
    if len(cands.ids) == 0:
        return [[] for _ in rows]
    inputs = rows_inputs(rows, cands)
    served = active_model()
    if served is not None:
        ids, scores, reasons = _rank_with_model(served, rows, inputs, cands, n)
    else:
        ids, scores, reasons = _rank_content_only(rows, inputs, cands, n)

    liked_titles = _titles_for({int(x) for x in reasons.ravel() if x >= 0})
    out = []
    for r, row in enumerate(rows):
        why = Why(row=row, cands=cands, liked_titles=liked_titles, kinds=_strongest_positive(inputs.events[r]))
        out.append(
            [
                Recommendation(paper_id=int(cands.ids[pos]), score=float(score), reason=why.text(int(reason), int(pos)))
                for pos, score, reason in zip(ids[r], scores[r], reasons[r], strict=True)
                if pos >= 0 and np.isfinite(score)
            ]
        )
    return out


def _interaction_rows(served: ActiveModel, events: list[list[tuple[int, str]]]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Positive and negative confidence rows (one per ranked row) over the model's training columns."""
    pr, pc, pv, nr, nc, nv = [], [], [], [], [], []
    for r, row_events in enumerate(events):
        for pid, kind in row_events:
            j = served.col.get(pid)
            if j is None or kind not in KIND_WEIGHTS:
                continue
            if kind in NEGATIVE_KINDS:
                nr.append(r), nc.append(j), nv.append(KIND_WEIGHTS[kind])
            else:
                pr.append(r), pc.append(j), pv.append(KIND_WEIGHTS[kind])
    shape = (len(events), served.model.n_items_)
    P = sp.csr_matrix((np.array(pv, dtype=np.float32), (pr, pc)), shape=shape)
    N = sp.csr_matrix((np.array(nv, dtype=np.float32), (nr, nc)), shape=shape)
    return P, N


def _rank_with_model(served: ActiveModel, rows: list[Row], inputs: RowInputs, cands: Candidates, n: int):
    """Fold every row in from its votes and score with the model."""
    cand_cols = model_columns(served, cands.ids)
    P, N = _interaction_rows(served, inputs.events)
    ids, scores, reasons = served.model.recommend_for_rows(
        P,
        n=n,
        negative_rows=N,
        categories=[row.categories for row in rows],
        exclude=inputs.excluded,  # rows x candidates, in cand_cols' order
        prior=inputs.prior,
        prior_weights=inputs.prior_weights,
        diversity=DIVERSITY,
        return_reasons=True,
        prepared=prepared_for(served, cand_cols, cands.texts, diversity=DIVERSITY),
    )
    # Map model columns back to candidate positions and liked columns to paper ids.
    pos = first_positions(cand_cols, ids.ravel()).reshape(ids.shape) if ids.size else ids
    paper_ids = served.paper_ids
    reason_ids = np.where(reasons >= 0, paper_ids[np.clip(reasons, 0, len(paper_ids) - 1)], reasons)
    return pos, scores, reason_ids


def _rank_content_only(rows: list[Row], inputs: RowInputs, cands: Candidates, n: int):
    """Before any model exists: similarity to liked papers + prior (``ranking.content_only``).

    Papers are read as tf-idf rows of ``content_encoder()`` (the archive's encoder, as search and similar
    papers read them), so a row's picks do not depend on which other rows share its batch. This ranker adds
    the prior as it is (no standardising): the dial's scale is already in it.
    """
    liked = [[pid for pid, k in events if k not in NEGATIVE_KINDS and k in KIND_WEIGHTS] for events in inputs.events]
    found = Paper.objects.filter(pk__in={p for ps in liked for p in ps}).values_list("id", "title", "abstract")
    liked_text = {pid: paper_text(title, abstract) for pid, title, abstract in found}
    liked_ids = sorted(liked_text)
    index = {pid: i for i, pid in enumerate(liked_ids)}
    encoder = content_encoder()
    pos, scores, reasons = content_only_rank(
        candidate_rows=_encoded(encoder, cands.texts),
        liked_rows=_encoded(encoder, [liked_text[p] for p in liked_ids]),
        liked=[[index[p] for p in dict.fromkeys(mine) if p in index] for mine in liked],
        excluded=inputs.excluded,
        prior=inputs.prior,
        n=n,
    )
    # liked-paper indices -> paper ids; the REASON_* codes are negative and stay as they are
    paper_of = np.array(liked_ids or [0], dtype=np.int64)
    reason_ids = np.where(reasons >= 0, paper_of[np.clip(reasons, 0, len(paper_of) - 1)], reasons)
    return pos, scores, reason_ids


def _encoded(encoder: ContentEncoder | None, texts: list[str]) -> sp.csr_matrix:
    """``texts`` as the encoder's L2-normalised tf-idf rows; without an encoder (an archive without a word to
    fit one on) rows of no feature, similar to nothing. No texts (no row liked anything): no rows, as wide as
    the encoder's, since scikit-learn's hashing cannot transform an empty list."""
    if encoder is None:
        return sp.csr_matrix((len(texts), 0), dtype=np.float32)
    if not texts:
        return sp.csr_matrix((0, len(encoder.kept_features_)), dtype=np.float32)
    return encoder.transform_sparse(texts)


# --- reasons ----------------------------------------------------------------------------


def _titles_for(paper_ids: set[int]) -> dict[int, str]:
    return dict(Paper.objects.filter(pk__in=paper_ids).values_list("id", "title")) if paper_ids else {}


def _short(title: str, limit: int = 70) -> str:
    title = " ".join(title.split())
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def _strongest_positive(events: list[tuple[int, str]]) -> dict[int, str]:
    """Paper id -> the strongest positive thing the reader did with it (a thumbs-down is never "liked")."""
    positive = [(pid, kind) for pid, kind in events if kind in VERBS and kind not in NEGATIVE_KINDS]
    return {pid: kind for pid, kind in sorted(positive, key=lambda e: KIND_WEIGHTS.get(e[1], 0))}


@dataclass
class Why:
    """The one line shown with each pick of a row: true for that row's reader and topic.

    ``reason`` is a paper the reader acted on (named with what they did, a vote that counts for this
    topic), or a ``REASON_*`` code. A category is named only when it is one of the topic's; a reader with
    none is told the pick comes from what readers upvote this week. A reader with several topics is
    told which of the topic's include keywords or authors a pick matches ("Matches your topic “RL
    theory”: keyword “bandit”"), since that is why it is in that topic's section.
    """

    row: Row
    cands: Candidates
    liked_titles: dict[int, str]
    kinds: dict[int, str]

    def __post_init__(self) -> None:
        self.fields = frozenset(self.row.categories or ())  # the topic's categories, once per row, not per pick

    def text(self, reason: int, pos: int) -> str:
        matched = self._matched(pos) if self.row.named else None
        if matched:
            return f"Matches your topic “{_short(self.row.topic.name, 40)}”: {matched[0]} “{_short(matched[1], 40)}”"
        if reason >= 0 and reason in self.liked_titles and reason in self.kinds:
            return f"Similar to “{_short(self.liked_titles[reason])}” you {VERBS[self.kinds[reason]]}"
        mine = sorted(self.cands.categories[pos] & self.fields)
        untrended = trending_scale(self.row.trending_weight) == 0.0  # "only my taste": trending explains nothing
        if reason == REASON_TRENDING and not untrended:
            return (
                f"Trending in {mine[0]}, one of your fields" if mine else "Trending: upvoted by many readers this week"
            )
        if mine:
            return f"New in {mine[0]}, one of your fields"
        return "New this week" if untrended else "Popular with readers this week"

    def _matched(self, pos: int) -> tuple[str, str] | None:
        """("keyword" or "author", the term as the reader wrote it) of the first include rule matching ``pos``."""
        topic = self.row.topic
        for what, terms, text in (
            ("keyword", topic.include_keywords, self.cands.haystacks[pos]),
            ("author", topic.include_authors, self.cands.authors[pos]),
        ):
            term = matching_term(terms, text)
            if term:
                return what, term
        return None


# --- similar papers ---------------------------------------------------------------------


def content_encoder() -> ContentEncoder | None:
    """The encoder serving reads papers with: the served model's ``encoder_``, else the one fitted on the archive.

    Search and similar papers embed the archive and their queries with it (``papers.search``) and the
    content-only ranker compares candidates with liked papers through it, so all of them read papers as
    the recommender does. The archive's (``papers.search.catalogue_encoder``) is fitted once per archive
    state with its search index, never per request; None only for an archive without a word to fit on.
    """
    served = active_model()
    return served.model.encoder_ if served is not None else paper_search.catalogue_encoder()


def similar_papers(*, paper_id: int, n: int = 5, exclude_ids: Iterable[int] = ()) -> list[int]:
    """Papers whose content is closest to ``paper_id`` in the archive, by ``content_encoder()``.

    ``exclude_ids`` (e.g. what the reader hid or voted down) never appear; the list is still ``n`` long
    while the archive lasts.
    """
    return paper_search.similar_by_content(paper_id=paper_id, n=n, exclude_ids=exclude_ids, encoder=content_encoder())
