#!/usr/bin/env python3
"""Trains the demo's film recommender on MovieLens 100K and writes what the page needs to
www/data/: the ONNX model, the films' titles and genres, the offline evaluation and
onnxruntime's answers for a few pick sets (the browser test compares the page with them).

    .cache/venv/bin/python scripts/train_recommender.py     # after scripts/setup.sh python

The MovieLens licence forbids redistributing the ratings, so they are read at training time
from the PyPI wheel of RecBole, which ships them, and only derived data is written.

The model is implicit-feedback ALS (Hu, Koren and Volinsky, 2008) on likes (ratings of 4 or
5). The page knows no user, only the films picked, so the exported model folds the picks in:
the user vector is the least-squares fit to the picks given the item factors Y, with the
confidence term of the picked items dropped so that it is one fixed matrix,
u = (1 + alpha) (Y'Y + reg I)^-1 sum(Y[picked]). A pick's contribution to a film's score is
then one dot product, and the largest one is the recommendation's "because you liked".
Hyperparameters are chosen on a validation split (each user's second-to-last like); the
exported model is trained without the last like, which the evaluation holds out.
"""

import argparse
import hashlib
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recommender_eval import (  # noqa: E402
    evaluate,
    histories_in_time_order,
    leave_last_out,
    popularity_recommender,
    top_k,
)

ROOT = Path(__file__).resolve().parent.parent
RECBOLE = 'recbole==1.2.1'
RECBOLE_WHEEL = 'recbole-1.2.1-py3-none-any.whl'
RECBOLE_WHEEL_SHA256 = '9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407'
DATA_IN_WHEEL = 'recbole/dataset_example/ml-100k/ml-100k'
LIKE_RATING = 4
K = 10
ITERATIONS = 15
SEED = 0
GRID = [
    {'factors': f, 'reg': r, 'alpha': a} for f in (32, 64) for r in (1.0, 10.0) for a in (5.0, 10.0)
]
MAX_MODEL_BYTES = 1 << 20

# Pick sets whose recommendations onnxruntime records for the browser test, by MovieLens
# title and year; genre None is the page's "any genre".
REFERENCE_PICKS = [
    ([('Star Wars', 1977), ('Fargo', 1996), ('Toy Story', 1995)], None),
    ([('Star Wars', 1977), ('Fargo', 1996), ('Toy Story', 1995)], 'Comedy'),
    ([('Godfather, The', 1972), ('Pulp Fiction', 1994), ('Silence of the Lambs, The', 1991)], None),
    ([('Sleepless in Seattle', 1993), ('Pretty Woman', 1990), ('Casablanca', 1942)], 'Drama'),
    ([('Alien', 1979)], 'Horror'),
]


def fetch_wheel(cache):
    """The RecBole wheel, downloaded once with pip and checked against its known hash."""
    wheel = cache / RECBOLE_WHEEL
    if not wheel.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, '-m', 'pip', 'download', '--quiet', '--disable-pip-version-check', '--no-deps',
             '--only-binary=:all:', '--dest', str(cache), RECBOLE],
            check=True,
        )
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != RECBOLE_WHEEL_SHA256:
        raise SystemExit(f'{wheel}: sha256 {digest}, expected {RECBOLE_WHEEL_SHA256}')
    return wheel


def read_movielens(wheel):
    """Films and likes from the wheel.

    Returns (films, likes): films ordered by MovieLens id, each {ids, title, year, genres};
    likes as (user, film index, timestamp). MovieLens 100K lists 18 films twice under two ids:
    they become one film. Its one film with no title or year ("unkonwn") is dropped; one has its
    year at the end of its title instead.
    """
    with zipfile.ZipFile(wheel) as z:
        item_lines = z.read(f'{DATA_IN_WHEEL}.item').decode('utf-8').splitlines()
        inter_lines = z.read(f'{DATA_IN_WHEEL}.inter').decode('utf-8').splitlines()
    if item_lines[0].split('\t')[:2] != ['item_id:token', 'movie_title:token_seq']:
        raise SystemExit(f'unexpected .item header: {item_lines[0]!r}')
    if inter_lines[0].split('\t')[:4] != ['user_id:token', 'item_id:token', 'rating:float', 'timestamp:float']:
        raise SystemExit(f'unexpected .inter header: {inter_lines[0]!r}')

    films, index_of_id, index_of_key = [], {}, {}
    for line in sorted(item_lines[1:], key=lambda l: int(l.split('\t')[0])):
        item_id, title, year, genres = line.split('\t')
        if not re.fullmatch(r'\d{4}', year):
            in_title = re.fullmatch(r'(.+) \((\d{4})\)', title)
            if not in_title:
                continue
            title, year = in_title[1], in_title[2]
        key = (title, int(year))
        if key not in index_of_key:
            index_of_key[key] = len(films)
            films.append({'ids': [], 'title': title, 'year': int(year), 'genres': genres.split()})
        index_of_id[item_id] = index_of_key[key]
        films[index_of_key[key]]['ids'].append(int(item_id))

    likes = []
    for line in inter_lines[1:]:
        user, item_id, rating, timestamp = line.split('\t')
        if float(rating) >= LIKE_RATING and item_id in index_of_id:
            likes.append((int(user), index_of_id[item_id], int(float(timestamp))))
    return films, likes


def display_title(title):
    """'Usual Suspects, The' reads 'The Usual Suspects' (an alternative title in brackets stays last)."""
    m = re.fullmatch(r"(.*?), (The|A|An|Il|La|Le|Les|L'|Das|Der)( \(.*\))?", title)
    if not m:
        return title
    rest, article, aside = m[1], m[2], m[3] or ''
    joiner = '' if article.endswith("'") else ' '
    return f'{article}{joiner}{rest}{aside}'


# --- implicit-feedback ALS -------------------------------------------------------------------

def train_ials(known, n_items, factors, reg, alpha, iterations=ITERATIONS, seed=SEED):
    """Item factors Y from users' liked items (confidence 1 + alpha on a like, 1 elsewhere)."""
    rng = np.random.default_rng(seed)
    users = sorted(known)
    by_user = [np.asarray(known[u], dtype=np.int64) for u in users]
    by_item = [[] for _ in range(n_items)]
    for row, items in enumerate(by_user):
        for item in items:
            by_item[item].append(row)
    by_item = [np.asarray(rows, dtype=np.int64) for rows in by_item]
    user_factors = rng.normal(0, 0.01, (len(users), factors))
    item_factors = rng.normal(0, 0.01, (n_items, factors))
    for _ in range(iterations):
        user_factors = als_half_step(item_factors, by_user, reg, alpha)
        item_factors = als_half_step(user_factors, by_item, reg, alpha)
    return item_factors


def als_half_step(fixed, liked_by_row, reg, alpha):
    """Solves every row's factors exactly with the other side fixed; a row with no likes is 0."""
    gram = fixed.T @ fixed + reg * np.eye(fixed.shape[1])
    out = np.zeros((len(liked_by_row), fixed.shape[1]))
    for row, liked in enumerate(liked_by_row):
        if len(liked):
            f = fixed[liked]
            out[row] = np.linalg.solve(gram + alpha * f.T @ f, (1 + alpha) * f.sum(axis=0))
    return out


def fold_in_matrix(item_factors, reg, alpha):
    """M with user = M @ sum(Y[picked]): ALS's user solve without the picks' extra confidence."""
    factors = item_factors.shape[1]
    return (1 + alpha) * np.linalg.inv(item_factors.T @ item_factors + reg * np.eye(factors))


def numpy_recommender(item_factors, fold_in):
    def recommend(items, k):
        scores = item_factors @ (fold_in @ item_factors[items].sum(axis=0))
        return top_k(scores, k, exclude=items)
    return recommend


# --- the ONNX model ---------------------------------------------------------------------------

def export_onnx(item_factors, fold_in, k):
    """liked (int64[n], film indices) and allowed (bool[films]) in; the k best allowed films
    not liked (items, scores) and, for each, the liked film contributing most (because) out."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    n_items = item_factors.shape[0]

    def const(name, array):
        return numpy_helper.from_array(np.asarray(array), name)

    initializers = [
        const('item_factors', item_factors.astype(np.float32)),
        const('fold_in', fold_in.astype(np.float32)),
        const('film_ids', np.arange(n_items, dtype=np.int64)),
        const('k', np.array([k], dtype=np.int64)),
        const('axis0', np.array([0], dtype=np.int64)),
        const('axis1', np.array([1], dtype=np.int64)),
        const('half', np.array(0.5, dtype=np.float32)),
        const('minus_inf', np.array(-np.inf, dtype=np.float32)),
    ]
    node = helper.make_node
    nodes = [
        # contributions[i, j]: how much liked film i adds to film j's score.
        node('Gather', ['item_factors', 'liked'], ['liked_factors'], axis=0),
        node('MatMul', ['liked_factors', 'fold_in'], ['liked_queries']),
        node('Gemm', ['liked_queries', 'item_factors'], ['contributions'], transB=1),
        node('ReduceSum', ['contributions', 'axis0'], ['all_scores'], keepdims=0),
        # Films already liked and films outside the filter can never be recommended.
        node('Unsqueeze', ['liked', 'axis1'], ['liked_column']),
        node('Equal', ['liked_column', 'film_ids'], ['is_pick']),
        node('Cast', ['is_pick'], ['is_pick_float'], to=TensorProto.FLOAT),
        node('ReduceMax', ['is_pick_float'], ['picked'], axes=[0], keepdims=0),
        node('Less', ['picked', 'half'], ['not_picked']),
        node('And', ['allowed', 'not_picked'], ['candidate']),
        node('Where', ['candidate', 'all_scores', 'minus_inf'], ['candidate_scores']),
        node('TopK', ['candidate_scores', 'k'], ['scores', 'items'], axis=0, largest=1, sorted=1),
        node('Gather', ['contributions', 'items'], ['top_contributions'], axis=1),
        node('ArgMax', ['top_contributions'], ['because_position'], axis=0, keepdims=0),
        node('Gather', ['liked', 'because_position'], ['because'], axis=0),
    ]
    graph = helper.make_graph(
        nodes,
        'film_recommender',
        [
            helper.make_tensor_value_info('liked', TensorProto.INT64, ['n_liked']),
            helper.make_tensor_value_info('allowed', TensorProto.BOOL, [n_items]),
        ],
        [
            helper.make_tensor_value_info('items', TensorProto.INT64, [k]),
            helper.make_tensor_value_info('scores', TensorProto.FLOAT, [k]),
            helper.make_tensor_value_info('because', TensorProto.INT64, [k]),
        ],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)], producer_name='edgeinfer-demo')
    model.ir_version = 8
    model.doc_string = (
        'Film recommender trained on MovieLens 100K likes (implicit ALS). Films with a score of '
        '-inf are not recommendations: fewer than k films were allowed.'
    )
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def onnx_recommender(session, n_items):
    allowed = np.ones(n_items, dtype=bool)

    def recommend(items, k):
        if k != K:
            raise ValueError(f'the model recommends {K} films, asked for {k}')
        out = session.run(['items'], {'liked': np.asarray(items, dtype=np.int64), 'allowed': allowed})
        return out[0].tolist()
    return recommend


# --- the reference answers for the browser test -----------------------------------------------

def reference_cases(session, films, genres, item_factors, fold_in):
    """onnxruntime's answers for REFERENCE_PICKS, each checked to be robust to float rounding:
    the browser runs another engine, so near-ties in the top 11 or in a reason would make the
    comparison a coin toss."""
    if any(genre not in genres for _, genre in REFERENCE_PICKS if genre):
        raise SystemExit('a reference genre is not one the page offers')
    index_of = {(f['title'], f['year']): i for i, f in enumerate(films)}
    cases = []
    for picks, genre in REFERENCE_PICKS:
        liked = np.array([index_of[p] for p in picks], dtype=np.int64)
        allowed = np.array([genre is None or genre in f['genres'] for f in films])
        items, scores, because = session.run(['items', 'scores', 'because'], {'liked': liked, 'allowed': allowed})

        contributions = (item_factors[liked] @ fold_in) @ item_factors.T
        expected = contributions.sum(axis=0)
        expected[~allowed] = -np.inf
        expected[liked] = -np.inf
        best = top_k(expected, K + 1)
        if not np.array_equal(best[:K], items):
            raise SystemExit(f'onnxruntime disagrees with numpy on {picks}: {items} against {best[:K]}')
        gaps = -np.diff(expected[best])
        margin = 1e-4 * np.abs(expected[best[0]])
        if np.any(gaps < margin):
            raise SystemExit(f'near-tie in the top {K + 1} for {picks} ({gaps.min():.2e}): pick another set')
        if len(liked) > 1:
            ordered = np.sort(contributions[:, items], axis=0)
            if np.any(ordered[-1] - ordered[-2] < margin):
                raise SystemExit(f'near-tie between two reasons for {picks}: pick another set')

        name = ', '.join(display_title(t) for t, _ in picks) + (f' ({genre} only)' if genre else '')
        cases.append({
            'name': name,
            'picks': liked.tolist(),
            'genre': genre,
            'items': items.tolist(),
            'scores': scores.tolist(),
            'because': because.tolist(),
        })
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', type=Path, default=ROOT / 'www' / 'data')
    parser.add_argument('--cache', type=Path, default=ROOT / '.cache' / 'downloads')
    args = parser.parse_args()

    import onnxruntime as ort

    films, likes = read_movielens(fetch_wheel(args.cache))
    n_items = len(films)
    histories = histories_in_time_order(likes)
    known, held_out = leave_last_out(histories, min_known=2)
    known_val, held_out_val = leave_last_out(known, min_known=1)
    print(f'MovieLens 100K: {n_items} films, {len(histories)} users, {len(likes)} likes '
          f'(ratings >= {LIKE_RATING}); {len(held_out)} users evaluated')

    print(f'validation (second-to-last like), hit rate@{K} / NDCG@{K}:')
    validation = []
    for params in GRID:
        y = train_ials(known_val, n_items, **params)
        m = evaluate(numpy_recommender(y, fold_in_matrix(y, params['reg'], params['alpha'])), known_val, held_out_val, K)
        validation.append({**params, **m})
        print(f'  factors {params["factors"]:3d}  reg {params["reg"]:5.1f}  alpha {params["alpha"]:5.1f}: '
              f'{m["hit_rate"]:.4f} / {m["ndcg"]:.4f}')
    chosen = max(validation, key=lambda v: (v['ndcg'], v['hit_rate']))
    params = {key: chosen[key] for key in ('factors', 'reg', 'alpha')}

    item_factors = train_ials(known, n_items, **params)
    fold_in = fold_in_matrix(item_factors, params['reg'], params['alpha'])
    model_bytes = export_onnx(item_factors, fold_in, K)
    if len(model_bytes) > MAX_MODEL_BYTES:
        raise SystemExit(f'the model is {len(model_bytes)} bytes, over {MAX_MODEL_BYTES}')
    session = ort.InferenceSession(model_bytes, providers=['CPUExecutionProvider'])

    # The test split is scored through the exported model itself, as the page runs it.
    model_metrics = evaluate(onnx_recommender(session, n_items), known, held_out, K)
    baseline_metrics = evaluate(popularity_recommender(known, n_items), known, held_out, K)
    print(f'test (last like, {len(held_out)} users)   hit rate@{K}   NDCG@{K}')
    print(f'  ALS model (ONNX)            {model_metrics["hit_rate"]:.4f}     {model_metrics["ndcg"]:.4f}')
    print(f'  popularity baseline         {baseline_metrics["hit_rate"]:.4f}     {baseline_metrics["ndcg"]:.4f}')
    if not all(model_metrics[m] > baseline_metrics[m] for m in model_metrics):
        raise SystemExit('the model does not beat the popularity baseline')

    genres = sorted({g for f in films for g in f['genres'] if g != 'unknown'})
    likes_per_film = np.zeros(n_items, dtype=np.int64)
    for items in known.values():
        likes_per_film[items] += 1
    catalogue = {
        'source': 'MovieLens 100K (GroupLens), titles and genres; likes counted on the training split',
        'genres': genres,
        'films': [
            {'title': display_title(f['title']), 'year': f['year'],
             'genres': [genres.index(g) for g in f['genres'] if g in genres], 'likes': int(likes_per_film[i])}
            for i, f in enumerate(films)
        ],
    }
    metrics = {
        'data': f'MovieLens 100K: ratings >= {LIKE_RATING} as likes; {n_items} films, {len(held_out)} users',
        'protocol': f'leave-last-one-out by timestamp; {K} recommendations among the films the user has '
                    'not liked; hyperparameters chosen on the second-to-last like',
        'k': K,
        'users': len(held_out),
        'model': {'name': 'implicit ALS, picks folded in', **params, 'iterations': ITERATIONS, **model_metrics},
        'popularity_baseline': baseline_metrics,
        'validation': validation,
    }
    reference = {
        'about': 'onnxruntime outputs of recommender.onnx for these picks (film indices into films.json)',
        'cases': reference_cases(session, films, genres, item_factors, fold_in),
    }

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / 'recommender.onnx').write_bytes(model_bytes)
    write_json(args.out / 'films.json', catalogue)
    write_json(args.out / 'metrics.json', metrics, indent=2)
    write_json(args.out / 'reference.json', reference, indent=2)
    print(f'wrote {args.out}: recommender.onnx ({len(model_bytes)} bytes), films.json, metrics.json, reference.json')


def write_json(path, value, indent=None):
    separators = None if indent else (',', ':')
    path.write_text(json.dumps(value, indent=indent, separators=separators, ensure_ascii=False) + '\n', encoding='utf-8')


if __name__ == '__main__':
    main()
