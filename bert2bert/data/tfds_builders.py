"""TFDS builders for WikiSplit and DiscoFuse (offline-first), and how any TFDS dataset is prepared.

TensorFlow Datasets 4.9.10 has no `wiki_split` or `discofuse` builder (only the Hugging Face
community mirrors `huggingface:wiki_split` / `huggingface:discofuse`, in their own namespace), so
bert2bert registers its own as **`wikisplit`** and **`discofuse`** (the names the task configs
use). Should a later TFDS version bring a builder of the same name, ours registers as
`bert2bert_wikisplit` / `bert2bert_discofuse` instead; `builder_for("wikisplit")` always returns
ours, whatever name it is registered under.

Both builders read the official files from a `manual_dir` when it holds them (no network at all)
and download them otherwise. Only the splits whose files are present are prepared: a folder with
just WikiSplit's `validation.tsv` gives a dataset with a `validation` split.

    >>> from bert2bert.data.tfds_builders import builder_for
    >>> builder = builder_for("wikisplit", data_dir="/tmp/tfds")  # doctest: +SKIP
    >>> prepare(builder, "validation", manual_dir="../shared/data/wikisplit")  # doctest: +SKIP

`prepare` never hangs without a network: it checks that the download hosts answer (3 s timeout)
before it lets TFDS download, and otherwise raises `DataUnavailableError` whose one-line message
says which URL to fetch, or which `manual_dir` / `data_dir` to fill.
"""
import concurrent.futures
import fnmatch
import inspect
import os
import socket
import urllib.parse
import zipfile
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import tensorflow_datasets as tfds

from bert2bert.data.errors import DataFormatError, DataUnavailableError  # noqa: F401


# ---------------------------------------------------------------------------
# Network: a fast yes/no before TFDS is allowed to download anything.

PROBE_TIMEOUT_SECONDS = 3.0


def host_reachable(host: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> bool:
    """True when a TCP connection to `host`:443 opens within `timeout` seconds (DNS included).

    The lookup runs in a worker thread, so a resolver that hangs cannot stall the caller.
    """
    def connect():
        with socket.create_connection((host, 443), timeout=timeout):
            return True

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        return bool(pool.submit(connect).result(timeout=timeout + 0.5))
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False
    finally:
        pool.shutdown(wait=False)


def hosts_of(urls: Sequence[str]) -> List[str]:
    """The distinct host names of `urls`, in order."""
    hosts = []
    for url in urls:
        host = urllib.parse.urlparse(url).hostname
        if host and host not in hosts:
            hosts.append(host)
    return hosts


# ---------------------------------------------------------------------------
# Local source files: plain, inside a zip, or inside an extracted tree.


class SourceFile:
    """One source file of a split: a path on disk, or a member of a zip archive.

    `open()` yields text lines (str, '\\n' kept) whatever the container.
    """

    def __init__(self, path: str, member: Optional[str] = None):
        self.path = path
        self.member = member

    def __repr__(self):
        return f"{self.path}!{self.member}" if self.member else self.path

    def lines(self) -> Iterator[str]:
        if self.member is None:
            with open(self.path, "rb") as f:
                yield from _decode_lines(f, repr(self))
        else:
            with zipfile.ZipFile(self.path) as archive, archive.open(self.member) as f:
                yield from _decode_lines(f, repr(self))


def _decode_lines(binary, name: str) -> Iterator[str]:
    for number, raw in enumerate(binary, start=1):  # binary files split on b"\n" only
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataFormatError(f"{name}:{number}: not valid UTF-8 ({e.reason})") from None


def find_in_zip(zip_path: str, pattern: str, must_contain: Optional[str] = None
                ) -> Optional[SourceFile]:
    """The first member (sorted) of the zip archive `zip_path` whose base name matches
    `pattern`; with `must_contain`, a folder of the member's path (or the archive's own file
    name) must contain that string."""
    with zipfile.ZipFile(zip_path) as archive:
        for member in sorted(archive.namelist()):
            parts = member.split("/")
            if not fnmatch.fnmatch(parts[-1], pattern):
                continue
            if must_contain and not any(must_contain in p for p in parts[:-1]) and \
                    must_contain not in os.path.basename(zip_path):
                continue
            return SourceFile(zip_path, member)
    return None


def find_in_dir(root: Optional[str], pattern: str, must_contain: Optional[str] = None
                ) -> Optional[SourceFile]:
    """The first file under `root` whose base name matches `pattern`: top-level files first,
    then members of top-level zip archives, then files in subfolders (all sorted). With
    `must_contain`, files below the top level need a folder name (or archive name) containing
    that string."""
    if not root or not os.path.isdir(root):
        return None
    top = sorted(os.listdir(root))
    for name in top:
        if fnmatch.fnmatch(name, pattern) and os.path.isfile(os.path.join(root, name)):
            return SourceFile(os.path.join(root, name))
    for name in top:
        path = os.path.join(root, name)
        if name.endswith(".zip") and os.path.isfile(path) and zipfile.is_zipfile(path):
            found = find_in_zip(path, pattern, must_contain)
            if found is not None:
                return found
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        if dirpath == root:
            continue
        folders = os.path.relpath(dirpath, root).split(os.sep)
        if must_contain and not any(must_contain in f for f in folders):
            continue
        for name in sorted(filenames):
            if fnmatch.fnmatch(name, pattern):
                return SourceFile(os.path.join(dirpath, name))
    return None


# ---------------------------------------------------------------------------
# The common base of the two builders.


class LocalFirstBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A builder whose splits come from files found in `manual_dir`, else downloaded.

    Subclasses define:
      CANONICAL_NAME: the name the task configs use ("wikisplit", "discofuse")
      SPLIT_FILES: {split: (file name pattern, ...)} looked up in `manual_dir`
      def download_urls(self) -> {split: url}
      def _source_for(self, split, path) -> SourceFile   (a downloaded path -> the split's file)
      def _generate_examples(self, source: SourceFile)
    """

    CANONICAL_NAME = ""
    SPLIT_FILES: Dict[str, Tuple[str, ...]] = {}

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls):
        # TFDS's own lookup imports the optional `importlib_resources` package (missing here);
        # the source file of the class is all it needs (its folder holds no checksums file).
        from etils import epath
        return epath.Path(inspect.getfile(cls))

    # --- what is where -----------------------------------------------------

    def download_urls(self) -> Dict[str, str]:
        raise NotImplementedError

    def _folder_hint(self) -> Optional[str]:
        """A folder name the split files must sit under inside archives/trees (None: any)."""
        return None

    def find_local_sources(self, manual_dir: Optional[str]) -> Dict[str, SourceFile]:
        """{split: SourceFile} for the splits whose files are in `manual_dir`."""
        found = {}
        for split, patterns in self.SPLIT_FILES.items():
            for pattern in patterns:
                source = find_in_dir(manual_dir, pattern, self._folder_hint())
                if source is not None:
                    found[split] = source
                    break
        return found

    def manual_help(self, manual_dir: str) -> str:
        """One line: which files to put in `manual_dir`."""
        files = ", ".join(" or ".join(p) for p in self.SPLIT_FILES.values())
        return f"put the split files ({files}) in manual_dir {manual_dir}"

    # --- TFDS hooks ----------------------------------------------------------

    def _split_generators(self, dl_manager):
        manual_dir = getattr(dl_manager, "_manual_dir", None)
        local = self.find_local_sources(os.fspath(manual_dir) if manual_dir else None)
        if local:
            return {split: self._generate_examples(source) for split, source in local.items()}
        urls = self.download_urls()
        paths = dl_manager.download(urls)
        return {split: self._generate_examples(self._source_for(split, os.fspath(path)))
                for split, path in paths.items()}

    def _source_for(self, split: str, path: str) -> SourceFile:
        return SourceFile(path)


# ---------------------------------------------------------------------------
# Which builder, and preparing one without hanging.


def _module_builders():
    from bert2bert.data import discofuse_builder, wikisplit_builder  # registers both
    return {"wikisplit": wikisplit_builder.WikiSplit, "discofuse": discofuse_builder.DiscoFuse}


def own_builder_names() -> Tuple[str, ...]:
    """The canonical names of the builders bert2bert ships: ("discofuse", "wikisplit")."""
    return tuple(sorted(_module_builders()))


def free_builder_name(name: str) -> str:
    """`name` when TFDS has no builder of that name yet, else "bert2bert_" + name."""
    try:
        from tensorflow_datasets.core import registered
        taken = set(registered._DATASET_REGISTRY) | set(registered._ABSTRACT_DATASET_REGISTRY)
    except Exception:  # noqa: BLE001 - private API moved: fall back to the public listing
        taken = set(tfds.list_builders(with_community_datasets=False))
    return name if name not in taken else "bert2bert_" + name


def parse_tfds_name(tfds_name: str) -> Tuple[str, Optional[str], Optional[str]]:
    """"name[/config][:version]" -> (name, config or None, version or None)."""
    version = None
    if ":" in tfds_name:
        tfds_name, version = tfds_name.split(":", 1)
    name, _, config = tfds_name.partition("/")
    return name, config or None, version


def builder_for(tfds_name: str, data_dir: Optional[str] = None):
    """The TFDS builder of `tfds_name` ("name[/config][:version]"); "wikisplit" and "discofuse"
    (with an optional config) give bert2bert's own builders."""
    name, config, version = parse_tfds_name(tfds_name)
    own = _module_builders()
    if name in own:
        kwargs = {"data_dir": data_dir}
        if config:
            kwargs["config"] = config
        if version:
            kwargs["version"] = version
        try:
            return own[name](**kwargs)
        except ValueError as e:
            configs = [c.name for c in (own[name].BUILDER_CONFIGS or [])]
            raise ValueError(f"TFDS dataset {tfds_name!r}: {e} (configs: {configs})") from None
    try:
        return tfds.builder(tfds_name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as e:
        raise ValueError(f"unknown TFDS dataset {tfds_name!r}: "
                         f"{str(e).splitlines()[0]}") from None


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


def _manual_dir(builder, manual_dir: Optional[str]) -> str:
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
    manual = _manual_dir(builder, manual_dir)
    own = isinstance(builder, LocalFirstBuilder)
    if own and split not in builder.SPLIT_FILES:
        raise ValueError(f"{builder.CANONICAL_NAME} has no split {split!r}; splits: "
                         f"{sorted(builder.SPLIT_FILES)}")
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
    except (DataFormatError, DataUnavailableError):
        raise
    except Exception as e:  # noqa: BLE001 - TFDS raises many kinds; keep one clear line
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise _unavailable(builder, split, manual,
                           f"preparing it failed ({type(e).__name__}: {first})") from e


# Register both builders when this module is imported (they import the base class from here).
from bert2bert.data import discofuse_builder as _discofuse  # noqa: E402,F401
from bert2bert.data import wikisplit_builder as _wikisplit  # noqa: E402,F401
