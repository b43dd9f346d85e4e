"""Offline evaluation of a top-k recommender, kept apart from training so that it can be
tested on data whose right answers are known by construction.

The protocol: each user's likes in time order; the last one is held out, the rest is what the
recommender knows about the user. It recommends k items among those the user has not liked
(the page never recommends a film already picked), and is scored on whether the held-out item
is among them (hit rate) and how high (NDCG, one relevant item so the ideal DCG is 1).
Ties in score go to the lower item index, as ONNX TopK breaks them, so the evaluated ranking
is the one the exported model produces.
"""

import numpy as np


def histories_in_time_order(events):
    """Groups (user, item, timestamp) events into each user's items ordered by time.

    Events at the same second are ordered by item index, so the split does not depend on the
    order of lines in the file. An item liked twice counts once, at its first time.
    """
    first_seen = {}
    for user, item, timestamp in events:
        seen = first_seen.setdefault(user, {})
        if item not in seen or timestamp < seen[item]:
            seen[item] = timestamp
    return {
        user: [item for item, _ in sorted(seen.items(), key=lambda it: (it[1], it[0]))]
        for user, seen in first_seen.items()
    }


def leave_last_out(histories, min_known=1):
    """Splits each history into what is known and the last item, held out.

    Users with fewer than `min_known + 1` items are left out: there would be nothing to
    recommend from.
    """
    known, held_out = {}, {}
    for user, items in histories.items():
        if len(items) > min_known:
            known[user] = list(items[:-1])
            held_out[user] = items[-1]
    return known, held_out


def top_k(scores, k, exclude=()):
    """The k best item indices by score, best first, never an excluded item.

    Ties go to the lower index. Excluded items are dropped rather than given a low score,
    so fewer than k come back only when fewer than k items are left.
    """
    scores = np.asarray(scores, dtype=np.float64)
    allowed = np.ones(len(scores), dtype=bool)
    allowed[list(exclude)] = False
    candidates = np.flatnonzero(allowed)
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order[:k]]


def hit_rate_and_ndcg(recommendations, held_out, k):
    """Mean hit rate@k and NDCG@k over users, from each user's recommended items (best first)."""
    if not held_out:
        raise ValueError('no users to evaluate')
    hits = 0.0
    ndcg = 0.0
    for user, target in held_out.items():
        ranked = list(recommendations[user])[:k]
        if target in ranked:
            hits += 1.0
            ndcg += 1.0 / np.log2(ranked.index(target) + 2)
    return {'hit_rate': hits / len(held_out), 'ndcg': ndcg / len(held_out)}


def evaluate(recommend, known, held_out, k=10):
    """Scores `recommend(known_items, k)`, which returns up to k item indices, best first."""
    recommendations = {user: recommend(known[user], k) for user in held_out}
    for user, items in recommendations.items():
        if set(items) & set(known[user]):
            raise ValueError(f'user {user} was recommended an item they already liked')
    return hit_rate_and_ndcg(recommendations, held_out, k)


def popularity_recommender(known, n_items):
    """The baseline: the items liked by the most users, the same list for everyone."""
    counts = np.zeros(n_items)
    for items in known.values():
        counts[items] += 1
    return lambda items, k: top_k(counts, k, exclude=items)
