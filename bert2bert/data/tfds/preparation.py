"""Preparing a TFDS dataset without hanging: offline from `manual_dir`, or downloaded only when
the download hosts answer.

    >>> from bert2bert.data.tfds import builder_for
    >>> builder = builder_for("wikisplit", data_dir="/tmp/tfds")  # doctest: +SKIP
    >>> prepare(builder, "validation", manual_dir="../shared/data/wikisplit")  # doctest: +SKIP

`prepare` checks that the download hosts answer (3 s timeout) before it lets TFDS download, and
otherwise raises `DataUnavailableError` whose one-line message says which URL to fetch, or which
`manual_dir` / `data_dir` to fill.
"""
import os
from typing import Optional

import tensorflow_datasets as tfds

from bert2bert.data.errors import DataUnavailableError
from bert2bert.data.tfds.base import LocalFirstBuilder
from bert2bert.data.tfds.network import host_reachable, hosts_of
from bert2bert.errors import Bert2BertError

# What each paper dataset downloads (for the offline message), and what it needs by hand.
TFDS_SOURCES = {
    "cnn_dailymail": (
        ["https://drive.google.com/uc?export=download&id=0BwmD_VLjROrfTHk4NFg2SndKcjQ",
         "https://drive.google.com/uc?export=download&id=0BwmD_VLjROrfM1BxdkxVaTY2bWs",
         "https://raw.githubusercontent.com/abisee/cnn-dailymail/master/url_lists/all_train.txt"],
        ""),
    "gigaword": (
        ["https://drive.google.com/uc?export=download&id=1USoQ8lJgN8kAWnUnRrupMGrPMLlDVqlV"], ""),
    "xsum": (
        ["https://raw.githubusercontent.com/EdinburghNLP/XSum/master/XSum-Dataset/"
         "XSum-TRAINING-DEV-TEST-SPLIT-90-5-5.json"],
        "xsum also needs xsum-extracts-from-downloads.tar.gz (made by the scripts of "
        "https://github.com/EdinburghNLP/XSum/tree/master/XSum-Dataset) in manual_dir {manual}"),
    "wmt14_translate": (
        ["https://www.statmt.org/wmt13/training-parallel-europarl-v7.tgz",
         "https://www.statmt.org/wmt14/test-full.tgz"],
        ""),
}


def _data_path(builder) -> str:
    return os.fspath(builder.data_path)


def _manual_dir_or_default(builder, manual_dir: Optional[str]) -> str:
    """`manual_dir`, else TFDS's default <data_dir>/downloads/manual."""
    if manual_dir:
        return os.fspath(manual_dir)
    return os.path.join(os.fspath(builder.data_dir_root), "downloads", "manual")


def _build_name(builder) -> str:
    """"name" or "name/config": what `tfds build` takes."""
    config = builder.builder_config.name if builder.builder_config else None
    return f"{builder.name}/{config}" if config else builder.name


def _unavailable(builder, split: str, manual_dir: str, reason: str) -> DataUnavailableError:
    name = builder.name
    root = os.fspath(builder.data_dir_root)
    if isinstance(builder, LocalFirstBuilder):
        urls = builder.download_urls()
        wanted = urls.get(split) or ", ".join(urls.values())
        others = [u for u in urls.values() if u != wanted]
        also = f" (other splits: {', '.join(others)})" if others else ""
        return DataUnavailableError(
            f"{builder.CANONICAL_NAME} split {split!r} is not prepared in {_data_path(builder)} "
            f"and {reason}: download {wanted}{also} and {builder.manual_help(manual_dir)}, then "
            f"call again with manual_dir={manual_dir}")
    urls, manual_note = TFDS_SOURCES.get(name, ([], ""))
    what = f"it downloads {', '.join(urls)}; " if urls else ""
    note = (manual_note.format(manual=manual_dir) + "; ") if manual_note else ""
    return DataUnavailableError(
        f"TFDS dataset {_build_name(builder)!r} (split {split!r}) is not prepared in "
        f"{_data_path(builder)} and {reason}: {what}{note}on a machine with internet run "
        f"`tfds build {_build_name(builder)} --data_dir DIR` and copy DIR/{name} to "
        f"{root}/{name} (or pass data_dir=DIR)")


def prepare(builder, split: str, manual_dir: Optional[str] = None,
            allow_download: bool = True) -> None:
    """Makes sure `split` of `builder` is prepared; downloads only when the hosts answer.

    Our own builders prepare from `manual_dir` when it holds files (no network), else from the
    official URLs. A dataset prepared without `split` is prepared again once the split's file
    is in `manual_dir`. TFDS's builders are prepared by TFDS (downloads) when their hosts answer.
    Raises DataUnavailableError (one line: what to download, which folder to fill).
    """
    manual = _manual_dir_or_default(builder, manual_dir)
    own = isinstance(builder, LocalFirstBuilder)
    if own and split not in builder.split_files():
        raise ValueError(f"{builder.CANONICAL_NAME} has no split {split!r}; splits: "
                         f"{sorted(builder.split_files())}")
    local = builder.find_local_sources(manual) if own else {}
    prepared = builder.is_prepared()
    if prepared and split in builder.info.splits:
        return
    mode = tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS
    if prepared:  # prepared, but without this split
        if not own:
            return  # the caller reports the missing split with the list of splits
        if split not in local:
            raise _unavailable(builder, split, manual,
                               f"it was prepared with {sorted(builder.info.splits)} only")
        mode = tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS
    if own and local:
        if split not in local:
            raise _unavailable(builder, split, manual,
                               f"manual_dir {manual} has files for {sorted(local)} only")
    else:
        if own:
            hosts = hosts_of(builder.download_urls().values())
        else:
            hosts = hosts_of(TFDS_SOURCES.get(builder.name, ([], ""))[0])
            if not hosts and builder.info.homepage:
                hosts = hosts_of([builder.info.homepage])
        if not allow_download:
            raise _unavailable(builder, split, manual, "downloads are switched off")
        down = [h for h in hosts if not host_reachable(h)]
        if down:
            raise _unavailable(builder, split, manual, f"{down[0]} cannot be reached (offline?)")
    config = tfds.download.DownloadConfig(
        manual_dir=manual, download_mode=mode, try_download_gcs=not own)
    try:
        builder.download_and_prepare(download_config=config)
    except Bert2BertError:  # a malformed file: the builder's message names it
        raise
    except Exception as e:  # noqa: BLE001 - TFDS raises many kinds; keep one clear line
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise _unavailable(builder, split, manual,
                           f"preparing it failed ({type(e).__name__}: {first})") from e
