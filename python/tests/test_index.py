"""The index from Python: the same files and the same results as the mmlsr command line, every
exact algorithm equal, the approximate index checked against a numpy brute force."""

import numpy as np
import pytest

import mmlsr
from mmlsr import metrics, store


def trec(path):
    """{query: [(doc, score), …]} in file order."""
    out = {}
    for line in open(path):
        q, _, d, rank, s, _ = line.split()
        out.setdefault(q, []).append((d, float(s)))
    return out


def test_saved_index_is_the_cli_file_and_answers_as_the_cli(tiny, tmp_path):
    built = mmlsr.Index.from_parquet(tiny["enc"] / "img_sparse.parquet")
    built.save(tmp_path / "py-index")
    # Same builder, same format: byte for byte the file `mmlsr index` wrote.
    assert (tmp_path / "py-index" / "index.mmlsr").read_bytes() == (tiny["index"] / "index.mmlsr").read_bytes()
    assert (tmp_path / "py-index" / "doc_ids.txt").read_text() == (tiny["index"] / "doc_ids.txt").read_text()

    for folder, run_file, impacts in [(tiny["index"], tiny["run"], "u8"), (tiny["index16"], tiny["run16"], "u16")]:
        index = mmlsr.Index.load(folder)
        assert index.impacts == impacts
        ids = index.ids
        qids, queries, vocab = store.read_sparse(tiny["enc"] / "text_sparse.parquet")
        assert vocab == index.vocab_size
        cli = trec(run_file)
        rows, scores = index.search_batch(queries, k=10, threads=2)
        assert rows.shape == (len(qids), 10)
        for q, r, s in zip(qids, rows, scores):
            got = [(ids[d], float(x)) for d, x in zip(r, s) if d >= 0]
            want = cli.get(q, [])
            assert [d for d, _ in got] == [d for d, _ in want], q
            np.testing.assert_allclose([x for _, x in got], [x for _, x in want], rtol=1e-5, atol=1e-6)
        # One query at a time and every exact algorithm: the same rows.
        p, i, v = queries
        for algorithm in mmlsr.ALGORITHMS:
            batch, _ = index.search_batch(queries, k=10, threads=1, algorithm=algorithm)
            np.testing.assert_array_equal(batch, rows)
        for qn in range(0, len(qids), 97):
            one, _ = index.search(i[p[qn] : p[qn + 1]], v[p[qn] : p[qn + 1]], k=10)
            assert list(one) == [d for d in rows[qn] if d >= 0]


def test_query_cut_keeping_every_term_is_exact_and_refuses_bad_cuts(tiny):
    for folder in (tiny["index"], tiny["index16"]):
        index = mmlsr.Index.load(folder)
        _, queries, _ = store.read_sparse(tiny["enc"] / "text_sparse.parquet")
        rows, scores = index.search_batch(queries, k=10, threads=1)
        # Every term: exact for u8 impacts with k candidates; u16 ones pick candidates by
        # their high byte, so they need a few more.
        cands = 10 if index.impacts == "u8" else 50
        cut_rows, cut_scores = index.search_cut_batch(queries, k=10, terms=10**6, candidates=cands, threads=2)
        np.testing.assert_array_equal(cut_rows, rows)
        np.testing.assert_array_equal(cut_scores, scores)
        # Fewer terms: every hit still carries its exact score under the whole query.
        short_rows, short_scores = index.search_cut_batch(queries, k=10, terms=2, candidates=50)
        p, i, v = queries
        for q in range(0, len(p) - 1, 53):
            one, one_scores = index.search_cut(i[p[q] : p[q + 1]], v[p[q] : p[q + 1]], k=10, terms=2, candidates=50)
            assert list(one) == [d for d in short_rows[q] if d >= 0]
            exact_rows, exact_scores = index.search_batch((np.array([0, p[q + 1] - p[q]]), i[p[q] : p[q + 1]], v[p[q] : p[q + 1]]), k=index.n_docs)
            exact = {int(d): float(x) for d, x in zip(exact_rows[0], exact_scores[0]) if d >= 0}
            for d, x in zip(one, one_scores):
                assert exact[int(d)] == pytest.approx(float(x), rel=1e-6)
        with pytest.raises(ValueError, match="at least k = 10 candidates"):
            index.search_cut_batch(queries, k=10, terms=5, candidates=9)
        with pytest.raises(ValueError, match="at least 1 term"):
            index.search_cut_batch(queries, k=10, terms=0, candidates=10)


def test_reordered_index_gives_the_same_hits_and_keeps_its_order_through_a_file(tiny, tmp_path):
    path = tiny["enc"] / "img_sparse.parquet"
    given = mmlsr.Index.from_parquet(path, block_size=4)
    reordered = mmlsr.Index.from_parquet(path, block_size=4, doc_order="heaviest-terms:2")
    reordered.save(tmp_path / "reordered")
    loaded = mmlsr.Index.load(tmp_path / "reordered")
    _, queries, _ = store.read_sparse(tiny["enc"] / "text_sparse.parquet")
    want, want_scores = given.search_batch(queries, k=10, threads=1)
    for index in (reordered, loaded):
        assert index.ids == given.ids
        for algorithm in mmlsr.ALGORITHMS:
            rows, scores = index.search_batch(queries, k=10, threads=1, algorithm=algorithm)
            np.testing.assert_array_equal(rows, want)
            np.testing.assert_array_equal(scores, want_scores)
    with pytest.raises(ValueError, match="heaviest-terms:N"):
        mmlsr.Index.from_parquet(path, doc_order="heaviest")


def dense(m, vocab):
    p, i, v = m
    out = np.zeros((len(p) - 1, vocab), dtype=np.float64)
    for r in range(len(p) - 1):
        out[r, i[p[r] : p[r + 1]]] = v[p[r] : p[r + 1]]
    return out


def test_approximate_index_at_safe_settings_is_exact_and_recall_is_reported(tiny):
    _, docs, vocab = store.read_sparse(tiny["enc"] / "img_sparse.parquet")
    _, queries, _ = store.read_sparse(tiny["enc"] / "text_sparse.parquet")
    scores = dense(queries, vocab) @ dense(docs, vocab).T  # float64 brute force
    n_docs = scores.shape[1]
    p, i, v = docs
    # Half-precision forward weights score the documents as numpy rounds them to float16.
    rounded = (p, i, v.astype(np.float16).astype(np.float32))
    for forward_weights, as_stored in [("full", docs), ("half", rounded)]:
        want = dense(queries, vocab) @ dense(as_stored, vocab).T
        safe = mmlsr.ApproxIndex.build(
            docs, vocab_size=vocab, postings_per_term=n_docs, block_size=4, forward_weights=forward_weights
        )
        rows, got = safe.search_batch(queries, k=10, query_cut=vocab, heap_factor=1e-6, threads=2)
        top = -np.sort(-want, axis=1)[:, :10]
        np.testing.assert_allclose(got, top, rtol=1e-5, atol=1e-6, err_msg=forward_weights)
        for q in range(0, len(rows), 50):
            np.testing.assert_allclose(want[q, rows[q]], top[q], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="forward_weights"):
        mmlsr.ApproxIndex.build(docs, vocab_size=vocab, forward_weights="quarter")
    big = (p, i, np.where(np.arange(len(v)) == 3, np.float32(1e5), v).astype(np.float32))
    with pytest.raises(ValueError, match="above half precision's largest"):
        mmlsr.ApproxIndex.build(big, vocab_size=vocab)
    mmlsr.ApproxIndex.build(big, vocab_size=vocab, forward_weights="full")
    # Default (approximate) settings: most of the exact top 10.
    fast = mmlsr.ApproxIndex.build(docs, vocab_size=vocab)
    rows, _ = fast.search_batch(queries, k=10)
    exact = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(rows, exact)])
    assert recall > 0.8, recall


def test_approximate_global_pruning_spends_the_budget_on_the_heaviest_postings(tiny):
    _, docs, vocab = store.read_sparse(tiny["enc"] / "img_sparse.parquet")
    _, i, v = docs
    lists = np.bincount(i, minlength=vocab)
    budget = 5 * int(np.count_nonzero(lists))
    threshold = np.sort(v)[::-1][budget - 1]
    uncapped = mmlsr.ApproxIndex.build(docs, vocab_size=vocab, postings_per_term=5, pruning="global", max_fraction=1e6)
    assert uncapped.n_postings == int(np.sum(v >= threshold))
    capped = mmlsr.ApproxIndex.build(docs, vocab_size=vocab, postings_per_term=5, pruning="global", max_fraction=1.0)
    kept = sum(min(int(np.sum(v[i == t] >= threshold)), 5) for t in np.flatnonzero(lists))
    assert capped.n_postings == kept
    with pytest.raises(ValueError, match="pruning"):
        mmlsr.ApproxIndex.build(docs, vocab_size=vocab, pruning="neither")
    with pytest.raises(ValueError, match="max_fraction"):
        mmlsr.ApproxIndex.build(docs, vocab_size=vocab, pruning="global", max_fraction=0.5)


def test_exact_index_equals_a_float64_brute_force(tiny):
    _, docs, vocab = store.read_sparse(tiny["enc"] / "img_sparse.parquet")
    _, queries, _ = store.read_sparse(tiny["enc"] / "text_sparse.parquet")
    scores = dense(queries, vocab) @ dense(docs, vocab).T  # float64 brute force
    index = mmlsr.ExactIndex.build(docs, vocab_size=vocab)
    assert index.n_docs == scores.shape[1] and index.n_postings == len(docs[1])
    rows, got = index.search_batch(queries, k=10, threads=2)
    # Ties broken by the smaller document id, as a stable sort of the negated scores does.
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    top = np.take_along_axis(scores, expected, axis=1)
    np.testing.assert_allclose(got, top, rtol=1e-6)
    for q in range(len(rows)):
        np.testing.assert_allclose(scores[q, rows[q]], top[q], rtol=1e-12)
    p, i, v = queries
    for q in range(0, len(rows), 40):
        one, _ = index.search(i[p[q] : p[q + 1]], v[p[q] : p[q + 1]], k=10)
        np.testing.assert_array_equal(one, rows[q])
    with pytest.raises(ValueError, match=rf"indices\[0\] = {vocab + 5}: expected a term id in 0\.\.{vocab}"):
        index.search([vocab + 5], [1.0])


def test_query_modes(tiny):
    index = mmlsr.Index.load(tiny["index"])
    _, (p, i, v), _ = store.read_sparse(tiny["enc"] / "text_sparse.parquet")
    q, w = i[p[0] : p[1]], v[p[0] : p[1]]
    own = q[:3]
    exp, _ = index.search_mode(q, w, own, mode="exp", k=10)
    np.testing.assert_array_equal(exp, index.search(q, w, k=10)[0])
    no_exp, _ = index.search_mode(q, w, own, mode="no-exp", k=10)
    np.testing.assert_array_equal(no_exp, index.search(own, w[:3], k=10)[0])
    hybrid, s = index.search_mode(q, w, own, mode="hybrid", k=5, candidates=20)
    assert len(hybrid) <= 5 and np.all(np.diff(s) <= 0)
