"""Evaluation metrics of Rothe et al. (TACL 2020), on lists of strings.

| task                 | paper metric                         | function                   |
|----------------------|--------------------------------------|----------------------------|
| DiscoFuse            | SARI, exact match                    | `sari_score`, `exact_match`|
| WikiSplit            | exact, SARI, case-sensitive BLEU     | ... , `bleu_cased`         |
| WMT14                | uncased BLEU of the TF Official      | `bleu_uncased`             |
|                      | Transformer script (not SacreBLEU)   |                            |
| Gigaword/CNN-DM/XSum | ROUGE-1/2/L F1                       | `rouge_scores`             |

All scores are on the 0-100 scale. `compute_metrics` dispatches by name and `score_files`
reads one example per line from UTF-8 files.

Implementations:
- BLEU: the BLEU of `official.legacy.transformer.compute_bleu.bleu_on_list` in tf-models-official
  (the tensor2tensor `bleu_hook` BLEU: mteval-v14 style tokenisation of punctuation and symbols,
  BLEU-4 with brevity penalty and its own smoothing of zero n-gram counts), computed here
  (`bleu_tokenize`, `corpus_bleu_of_tokens`): importing the script loads Keras 2 and TF Model
  Garden (seconds). tests/test_metrics.py holds it equal to the script bit for bit.
- SacreBLEU: `sacrebleu.corpus_bleu` with its defaults (13a tokenisation, exp smoothing).
- ROUGE: Google's `rouge-score` package with Porter stemming, F1 averaged over examples.
- SARI: a plain-Python reimplementation of tensor2tensor's `tensor2tensor/utils/sari_hook.py`
  (`get_sari_score`; tensor2tensor does not install with TF 2.20). Per-sentence SARI is averaged
  over the corpus (macro average), as the t2t hook (a streaming mean over per-example scores)
  and LaserTagger's `score_lib.compute_sari_scores` do.
"""
from __future__ import annotations

import collections
import functools
import math
import re
import sys
import unicodedata
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from bert2bert.textfiles import text_lines

__all__ = [
    "sacrebleu_score", "bleu_cased", "bleu_uncased", "rouge_scores",
    "sari_score", "sari_components", "sentence_sari", "exact_match",
    "compute_metrics", "score_files", "METRIC_NAMES", "WIKISPLIT_SEPARATOR", "bleu_tokenize",
    "corpus_bleu_of_tokens",
]

WIKISPLIT_SEPARATOR = "<::::>"


def _check_lengths(**lists) -> int:
    lengths = {name: len(values) for name, values in lists.items() if values is not None}
    if len(set(lengths.values())) > 1:
        raise ValueError("different numbers of examples: "
                         + ", ".join(f"{name}={n}" for name, n in lengths.items()))
    return next(iter(lengths.values()), 0)


def _single_refs(refs: Sequence) -> List[str]:
    """One reference string per example (a one-element list is accepted too)."""
    out = []
    for ref in refs:
        if isinstance(ref, str):
            out.append(ref)
        elif len(ref) == 1:
            out.append(ref[0])
        else:
            raise ValueError(f"this metric takes exactly one reference per example, got {len(ref)}")
    return out


def _ref_lists(refs: Sequence) -> List[List[str]]:
    """A list of reference strings per example (a bare string means one reference)."""
    return [[ref] if isinstance(ref, str) else list(ref) for ref in refs]


# ----------------------------------------------------------------------------------------- BLEU

def sacrebleu_score(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Corpus BLEU (0-100) from `sacrebleu.corpus_bleu` with its default 13a tokenisation,
    one reference per example."""
    import sacrebleu

    refs = _single_refs(refs)
    _check_lengths(hyps=hyps, refs=refs)
    return float(sacrebleu.corpus_bleu(list(hyps), [refs]).score)


@functools.cache
def _bleu_tokenizer_patterns() -> Tuple[re.Pattern, re.Pattern, re.Pattern]:
    """The script's three patterns: punctuation after a non-digit, punctuation before a
    non-digit, any symbol. Its classes hold every code point below `sys.maxunicode` of Unicode
    category P* (punctuation) or S* (symbols), in code-point order and unescaped, as the
    script writes them: the same pattern strings, so the same quirks. Built on first use
    (about a second)."""
    classes = {"P": [], "S": []}
    for code in range(sys.maxunicode):
        char = chr(code)
        kind = unicodedata.category(char)[0]
        if kind in classes:
            classes[kind].append(char)
    punctuation, symbols = ("".join(classes[k]) for k in "PS")
    return (re.compile(r"([^\d])([" + punctuation + r"])"),
            re.compile(r"([" + punctuation + r"])([^\d])"),
            re.compile("([" + symbols + "])"))


def bleu_tokenize(text: str) -> List[str]:
    """mteval-v14 tokenisation as the TF Official Transformer script does it: punctuation is
    split off unless it sits between digits (1,000.5 stays one token), every symbol is
    split off, then whitespace splits.

    >>> bleu_tokenize("It costs $1,000.50, (about) 900€!")
    ['It', 'costs', '$', '1,000.50', ',', '(', 'about', ')', '900', '€', '!']
    """
    after_non_digit, before_non_digit, symbol = _bleu_tokenizer_patterns()
    text = after_non_digit.sub(r"\1 \2 ", text)
    text = before_non_digit.sub(r" \1 \2", text)
    return symbol.sub(r" \1 ", text).split()


def _bleu_ngram_counts(tokens: Sequence[str], max_order: int) -> collections.Counter:
    """Every n-gram of `tokens` for n = 1..max_order (tuples), with how often it occurs
    (BLEU clips repeats; SARI's `_ngram_counter` counts each n-gram once)."""
    return collections.Counter(tuple(tokens[i:i + n]) for n in range(1, max_order + 1)
                               for i in range(len(tokens) - n + 1))


def corpus_bleu_of_tokens(refs: Sequence[Sequence[str]], hyps: Sequence[Sequence[str]],
                          max_order: int = 4) -> float:
    """Corpus BLEU (0-1) of tokenised hypotheses against one tokenised reference each, as the
    script computes it: clipped n-gram matches summed over the corpus; an order with no match
    gets precision 1 / (2^k * possible), k counting the orders without a match so far; orders
    with no possible n-gram add nothing to the log sum, which is still divided by
    `max_order`; the brevity penalty exp(1 - ref / hyp) when the hypotheses are shorter. (The
    script returns it rounded to float32; `bleu_cased` and `bleu_uncased` do that too.)"""
    matches, possible = [0] * max_order, [0] * max_order
    ref_length = hyp_length = 0
    for ref, hyp in zip(refs, hyps):
        ref_length += len(ref)
        hyp_length += len(hyp)
        ref_counts = _bleu_ngram_counts(ref, max_order)
        hyp_counts = _bleu_ngram_counts(hyp, max_order)
        for ngram, count in ref_counts.items():
            matches[len(ngram) - 1] += min(count, hyp_counts[ngram])
        for ngram, count in hyp_counts.items():
            possible[len(ngram) - 1] += count
    precisions, smoothing = [], 1.0
    for matched, total in zip(matches, possible):
        if total and matched:
            precisions.append(matched / total)
        elif total:
            smoothing *= 2
            precisions.append(1.0 / (smoothing * total))
        else:
            precisions.append(0.0)
    geometric_mean = 0.0
    if max(precisions) > 0:
        geometric_mean = math.exp(sum(math.log(p) for p in precisions if p) / max_order)
    ratio = hyp_length / ref_length
    brevity = math.exp(1 - 1.0 / ratio) if ratio < 1.0 else 1.0
    return geometric_mean * brevity


def _official_bleu(hyps: Sequence[str], refs: Sequence[str], case_sensitive: bool) -> float:
    """BLEU-4 (0-100) of the TF Official Transformer script
    (`official.legacy.transformer.compute_bleu.bleu_on_list(refs, hyps, case_sensitive)`, the
    tensor2tensor `bleu_hook`), computed here: importing the script would load Keras 2 and
    TF Model Garden into the process (seconds). tests/test_metrics.py holds it equal to the
    script, bit for bit."""
    refs = _single_refs(refs)
    _check_lengths(hyps=hyps, refs=refs)
    if not refs:
        raise ValueError("BLEU of an empty corpus is undefined")
    if not any(h.strip() for h in hyps):
        return 0.0  # no hypothesis n-gram at all (the script would divide by zero)
    if not case_sensitive:
        hyps, refs = [h.lower() for h in hyps], [r.lower() for r in refs]
    ref_tokens = [bleu_tokenize(r) for r in refs]
    if not any(ref_tokens):
        raise ValueError("BLEU is undefined when all references are empty")
    hyp_tokens = [bleu_tokenize(h) for h in hyps]
    # The script's arithmetic: its float32 score times 100, in float32.
    return float(np.float32(corpus_bleu_of_tokens(ref_tokens, hyp_tokens)) * 100)


def bleu_cased(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Case-sensitive corpus BLEU-4 (0-100) of the TF Official Transformer script
    (`official.legacy.transformer.compute_bleu.bleu_on_list(..., case_sensitive=True)`);
    the WikiSplit BLEU of the paper."""
    return _official_bleu(hyps, refs, case_sensitive=True)


def bleu_uncased(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Uncased corpus BLEU-4 (0-100) of the TF Official Transformer script: both sides are
    lower-cased first (the script's `case_sensitive=False`); the paper's WMT14 BLEU."""
    return _official_bleu(hyps, refs, case_sensitive=False)


# ---------------------------------------------------------------------------------------- ROUGE

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


def rouge_scores(hyps: Sequence[str], refs: Sequence[str], *, use_stemmer: bool = True,
                 rouge_lsum: bool = True) -> Dict[str, float]:
    """ROUGE-1/2/L F1 (0-100) of Google's `rouge-score` with Porter stemming, averaged over
    examples. Keys "rouge1", "rouge2", "rougeL" and, if `rouge_lsum`, "rougeLsum" (summary-level
    LCS over sentences separated by "\\n" in the strings; with one-line texts it equals rougeL)."""
    from rouge_score import rouge_scorer

    refs = _single_refs(refs)
    n = _check_lengths(hyps=hyps, refs=refs)
    types = list(ROUGE_TYPES) + (["rougeLsum"] if rouge_lsum else [])
    scorer = rouge_scorer.RougeScorer(types, use_stemmer=use_stemmer)
    totals = dict.fromkeys(types, 0.0)
    for hyp, ref in zip(hyps, refs):
        scores = scorer.score(ref, hyp)  # score(target, prediction)
        for key in types:
            totals[key] += scores[key].fmeasure
    return {key: 100.0 * total / max(n, 1) for key, total in totals.items()}


# ----------------------------------------------------------------------------------------- SARI
# Faithful to tensor2tensor/utils/sari_hook.py: n-grams are counted once per sentence (sets),
# token 0 is dropped as padding (only matters for integer ids), 0/0 counts as 1, the reference
# n-grams are weighted by the fraction of non-empty references containing them for keep and
# deletion, and deletion uses an F-beta with beta=0 (precision only) by default.

def _ngram_counter(tokens: Sequence, n: int) -> collections.Counter:
    tokens = [t for t in tokens if t != 0]  # t2t drops padding id 0; a no-op for strings
    counts = collections.Counter()
    for ngram in {tuple(tokens[i:i + n]) for i in range(len(tokens) + 1 - n)}:
        counts[ngram] = 1
    return counts


def _fbeta(true_positives, selected, relevant, beta=1) -> float:
    precision = true_positives / selected if selected > 0 else 1
    if beta == 0:
        return precision
    recall = true_positives / relevant if relevant > 0 else 1
    if precision > 0 and recall > 0:
        beta2 = beta * beta
        return (1 + beta2) * precision * recall / (beta2 * precision + recall)
    return 0


def _addition_score(source, prediction, target) -> float:
    added = prediction - source
    return _fbeta(sum((added & target).values()), sum(added.values()),
                  sum((target - source).values()))


def _keep_score(source, prediction, target) -> float:
    kept = source & prediction
    should_keep = source & target
    return _fbeta(sum((kept & should_keep).values()), sum(kept.values()),
                  sum(should_keep.values()))


def _deletion_score(source, prediction, target, beta=0) -> float:
    deleted = source - prediction
    should_delete = source - target
    return _fbeta(sum((deleted & should_delete).values()), sum(deleted.values()),
                  sum(should_delete.values()), beta=beta)


def sentence_sari(source: Sequence, prediction: Sequence, targets: Sequence[Sequence], *,
                  max_gram_size: int = 4, beta_for_deletion: float = 0
                  ) -> Tuple[float, float, float, float]:
    """SARI of one example on token sequences (strings or integer ids), 0-1 scale.

    Same contract as t2t `sari_hook.get_sari_score`: returns (sari, keep, addition, deletion).
    """
    keep_scores, add_scores, del_scores = [], [], []
    for n in range(1, max_gram_size + 1):
        source_counts = _ngram_counter(source, n)
        prediction_counts = _ngram_counter(prediction, n)
        target_counts = collections.Counter()  # reference n-grams, count 1
        weighted = collections.Counter()  # count = fraction of non-empty references with it
        num_nonempty = 0
        for target in targets:
            counts = _ngram_counter(target, n)
            if counts:
                weighted += counts
                num_nonempty += 1
        for gram in list(weighted):
            weighted[gram] /= num_nonempty
            target_counts[gram] = 1
        keep_scores.append(_keep_score(source_counts, prediction_counts, weighted))
        del_scores.append(_deletion_score(source_counts, prediction_counts, weighted,
                                          beta_for_deletion))
        add_scores.append(_addition_score(source_counts, prediction_counts, target_counts))
    keep = sum(keep_scores) / max_gram_size
    add = sum(add_scores) / max_gram_size
    deletion = sum(del_scores) / max_gram_size
    return (keep + add + deletion) / 3.0, keep, add, deletion


def _sari_tokens(text: str, lowercase: bool, ignore_separators: bool) -> List[str]:
    if lowercase:
        text = text.lower()
    if ignore_separators:
        text = re.sub(" " + re.escape(WIKISPLIT_SEPARATOR) + " ", " ", text)
    return text.split()


def sari_components(sources: Sequence[str], hyps: Sequence[str], refs_list: Sequence, *,
                    max_gram_size: int = 4, beta_for_deletion: float = 0,
                    lowercase: bool = False, ignore_wikisplit_separators: bool = False
                    ) -> Dict[str, float]:
    """Corpus SARI and its parts (0-100): keys "sari", "keep", "add", "del".

    Each per-example score is t2t `get_sari_score` on whitespace tokens (the public DiscoFuse and
    WikiSplit data are pre-tokenised); the corpus value is the plain mean over examples.
    `refs_list[i]` is a list of reference strings (a bare string means one reference).

    The defaults are the t2t hook's (case-sensitive, beta_for_deletion=0, "<::::>" kept as a
    token). LaserTagger's scorer (google-research/lasertagger score_main.py) instead lower-cases,
    removes " <::::> " and uses beta_for_deletion=1: pass lowercase=True,
    ignore_wikisplit_separators=True, beta_for_deletion=1 to reproduce it. The paper does not say
    which of these settings produced its SARI numbers.
    """
    refs_list = _ref_lists(refs_list)
    n = _check_lengths(sources=sources, hyps=hyps, refs=refs_list)
    totals = [0.0, 0.0, 0.0, 0.0]
    for source, hyp, refs in zip(sources, hyps, refs_list):
        tok = lambda s: _sari_tokens(s, lowercase, ignore_wikisplit_separators)  # noqa: E731
        scores = sentence_sari(tok(source), tok(hyp), [tok(r) for r in refs],
                               max_gram_size=max_gram_size, beta_for_deletion=beta_for_deletion)
        totals = [t + s for t, s in zip(totals, scores)]
    return {key: 100.0 * t / max(n, 1) for key, t in zip(("sari", "keep", "add", "del"), totals)}


def sari_score(sources: Sequence[str], hyps: Sequence[str], refs_list: Sequence,
               **kwargs) -> float:
    """Corpus SARI (0-100): mean over examples of t2t's per-sentence SARI.
    Keyword arguments as in `sari_components`."""
    return sari_components(sources, hyps, refs_list, **kwargs)["sari"]


# ---------------------------------------------------------------------------------- exact match

def exact_match(hyps: Sequence[str], refs: Sequence, *, normalize_whitespace: bool = False,
                lowercase: bool = False) -> float:
    """Percentage (0-100) of hypotheses equal to their reference (to any of them if refs[i] is
    a list) after stripping surrounding whitespace and, if `normalize_whitespace`, collapsing
    internal runs of whitespace to one space."""
    refs = _ref_lists(refs)
    n = _check_lengths(hyps=hyps, refs=refs)

    def norm(text):
        text = " ".join(text.split()) if normalize_whitespace else text.strip()
        return text.lower() if lowercase else text

    matches = sum(any(norm(hyp) == norm(r) for r in rs) for hyp, rs in zip(hyps, refs))
    return 100.0 * matches / max(n, 1)


# ------------------------------------------------------------------------------------- dispatch

METRIC_NAMES = ("bleu", "bleu_uncased", "sacrebleu", "rouge", "sari", "exact")


def _parse_names(names: Union[str, Iterable[str]]) -> List[str]:
    if isinstance(names, str):
        names = names.split(",")
    names = [name.strip() for name in names if name.strip()]
    unknown = [name for name in names if name not in METRIC_NAMES]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; valid names: {', '.join(METRIC_NAMES)}")
    if not names:
        raise ValueError(f"no metric given; valid names: {', '.join(METRIC_NAMES)}")
    return names


def compute_metrics(names: Union[str, Iterable[str]], sources: Optional[Sequence[str]],
                    hyps: Sequence[str], refs: Sequence[str]) -> Dict[str, float]:
    """Scores (0-100) for each metric name, one flat dict:

    "bleu" -> {"bleu"} (case-sensitive, TF Official script; WikiSplit), "bleu_uncased" ->
    {"bleu_uncased"} (WMT), "sacrebleu" -> {"sacrebleu"}, "rouge" -> {"rouge1", "rouge2", "rougeL",
    "rougeLsum"}, "sari" -> {"sari"} (needs `sources`), "exact" -> {"exact"}.
    `names` is a list or a comma-separated string.
    """
    names = _parse_names(names)
    _check_lengths(sources=sources, hyps=hyps, refs=refs)
    out: Dict[str, float] = {}
    for name in names:
        if name == "bleu":
            out["bleu"] = bleu_cased(hyps, refs)
        elif name == "bleu_uncased":
            out["bleu_uncased"] = bleu_uncased(hyps, refs)
        elif name == "sacrebleu":
            out["sacrebleu"] = sacrebleu_score(hyps, refs)
        elif name == "rouge":
            out.update(rouge_scores(hyps, refs))
        elif name == "sari":
            if sources is None:
                raise ValueError("metric 'sari' needs the sources")
            out["sari"] = sari_score(sources, hyps, refs)
        elif name == "exact":
            out["exact"] = exact_match(hyps, refs)
    return out


def _read_lines(path: str) -> List[str]:
    """One example per line (`bert2bert.textfiles.text_lines`: UTF-8, only "\\n" ends a line)."""
    return list(text_lines(path))


def score_files(metric: Union[str, Iterable[str]], hyp_path: str, ref_path: str,
                src_path: Optional[str] = None) -> Dict[str, float]:
    """`compute_metrics` on files with one example per line (UTF-8). ValueError if the files
    have different numbers of lines."""
    names = _parse_names(metric)
    hyps, refs = _read_lines(hyp_path), _read_lines(ref_path)
    sources = _read_lines(src_path) if src_path is not None else None
    counts = [("hypotheses", hyp_path, len(hyps)), ("references", ref_path, len(refs))]
    if sources is not None:
        counts.append(("sources", src_path, len(sources)))
    if len({n for _, _, n in counts}) > 1:
        raise ValueError("files have different numbers of lines: "
                         + ", ".join(f"{kind} {path}: {n}" for kind, path, n in counts))
    return compute_metrics(names, sources, hyps, refs)
