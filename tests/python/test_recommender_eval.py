"""The recommender's offline evaluation (scripts/recommender_eval.py) on small data whose
right answers are known by construction.

    .cache/venv/bin/python -m unittest discover -s tests/python
"""

import math
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'scripts'))
from recommender_eval import (  # noqa: E402
    evaluate,
    histories_in_time_order,
    hit_rate_and_ndcg,
    leave_last_out,
    popularity_recommender,
    top_k,
)


class SplitTest(unittest.TestCase):
    def test_histories_are_in_time_order_with_ties_by_item_and_repeats_at_first_time(self):
        events = [
            ('ann', 7, 300), ('ann', 2, 100), ('bob', 1, 50), ('ann', 5, 200),
            ('ann', 3, 200),  # same second as item 5: the lower index comes first
            ('ann', 2, 400),  # liked again later: still counted at 100
        ]
        self.assertEqual(histories_in_time_order(events), {'ann': [2, 3, 5, 7], 'bob': [1]})

    def test_the_last_item_is_held_out_and_short_histories_are_left_out(self):
        known, held_out = leave_last_out({'ann': [2, 3, 5, 7], 'bob': [1], 'cy': [4, 9]}, min_known=1)
        self.assertEqual(known, {'ann': [2, 3, 5], 'cy': [4]})
        self.assertEqual(held_out, {'ann': 7, 'cy': 9})
        known, held_out = leave_last_out({'ann': [2, 3, 5, 7], 'cy': [4, 9]}, min_known=2)
        self.assertEqual(held_out, {'ann': 7})


class TopKTest(unittest.TestCase):
    def test_best_first_ties_to_the_lower_index_excluded_items_never(self):
        scores = [0.5, 0.9, 0.5, 0.1, 0.9, 0.7]
        self.assertEqual(top_k(scores, 4).tolist(), [1, 4, 5, 0])
        self.assertEqual(top_k(scores, 4, exclude=[4, 0]).tolist(), [1, 5, 2, 3])

    def test_fewer_than_k_when_fewer_items_are_left(self):
        self.assertEqual(top_k([3.0, 1.0, 2.0], 10, exclude=[0]).tolist(), [2, 1])


class MetricsTest(unittest.TestCase):
    def test_hit_rate_and_ndcg_from_the_rank_of_the_held_out_item(self):
        recommendations = {
            'first': [9, 1, 2],      # rank 1: DCG 1
            'third': [1, 2, 9],      # rank 3: 1 / log2(4) = 0.5
            'second': [1, 9, 2],     # rank 2: 1 / log2(3)
            'missed': [1, 2, 3, 9],  # rank 4, past k = 3: nothing
        }
        held_out = {user: 9 for user in recommendations}
        m = hit_rate_and_ndcg(recommendations, held_out, k=3)
        self.assertAlmostEqual(m['hit_rate'], 3 / 4)
        self.assertAlmostEqual(m['ndcg'], (1 + 0.5 + 1 / math.log2(3) + 0) / 4)

    def test_no_users_is_an_error_not_a_score(self):
        with self.assertRaises(ValueError):
            hit_rate_and_ndcg({}, {}, k=10)


class EvaluateTest(unittest.TestCase):
    known = {'ann': [0, 1], 'bob': [2], 'cy': [0, 3]}
    held_out = {'ann': 4, 'bob': 5, 'cy': 1}

    def test_an_oracle_scores_one_and_a_recommender_that_never_finds_it_zero(self):
        oracle = lambda items, k: [next(h for u, h in self.held_out.items() if self.known[u] == items)]  # noqa: E731
        self.assertEqual(evaluate(oracle, self.known, self.held_out, k=10), {'hit_rate': 1.0, 'ndcg': 1.0})
        blind = lambda items, k: [6, 7]  # noqa: E731
        self.assertEqual(evaluate(blind, self.known, self.held_out, k=10), {'hit_rate': 0.0, 'ndcg': 0.0})

    def test_recommending_an_item_the_user_already_liked_is_refused(self):
        cheat = lambda items, k: list(items) + [4, 5]  # noqa: E731
        with self.assertRaises(ValueError):
            evaluate(cheat, self.known, self.held_out, k=10)

    def test_the_popularity_baseline_recommends_the_most_liked_items_not_yet_liked(self):
        # Likes per item: 0 by three users, 1 by two, 2 by one, 3 and 4 by nobody.
        known = {'ann': [0, 1, 2], 'bob': [0, 1], 'cy': [0]}
        recommend = popularity_recommender(known, n_items=5)
        self.assertEqual(list(recommend([0], 3)), [1, 2, 3])
        self.assertEqual(list(recommend([0, 1, 2], 3)), [3, 4])
        # cy's next like is item 2, ranked second among 1, 2, 3, 4; bob's is 4, ranked third.
        m = evaluate(recommend, {'bob': [0, 1], 'cy': [0]}, {'bob': 4, 'cy': 2}, k=3)
        self.assertAlmostEqual(m['hit_rate'], 1.0)
        self.assertAlmostEqual(m['ndcg'], (1 / math.log2(3) + 1 / math.log2(4)) / 2)


if __name__ == '__main__':
    unittest.main()
