"""Hugging Face `EncoderDecoderModel` directories: the ports of the paper's released models
(`google/bert2bert_L-24_wmt_de_en`, `google/roberta2roberta_L-24_bbc`, ...) and users' own.

`config.json` has `model_type: encoder-decoder` and the two halves' configs; the halves may be
`bert-generation` (the released ports: BERT layout without token types, an output bias beside
the tied projection), `bert` or `roberta` (BertLMHeadModel / RobertaForCausalLM decoders with
their masked-LM head), and the decoder also `gpt2` (GPT2LMHeadModel with cross-attention: the
paper's bert2gpt / roberta2gpt; its GPT-2 vocabulary in `decoder_tokenizer/`). Weights are `model.safetensors` under `encoder.` and `decoder.`
(`decoder.bert.`, `decoder.roberta.`). With `tie_encoder_decoder` the two stacks are one (the
paper's bertShare / robertaShare): a file may hold both names of each shared tensor or the
encoder's alone. Vocabulary: `spiece.model` (SentencePiece, the WMT ports), `vocab.json` +
`merges.txt` (RoBERTa's BPE) or `vocab.txt` (WordPiece).
"""
import dataclasses
import json
import re

import numpy as np

from bert2bert import textfiles
from bert2bert.checkpoints.base import CheckpointError, read_config
from bert2bert.checkpoints.hf import (IGNORED, _arch, _bert_table, _gpt2_table,
                                      open_safetensors, safetensors_file, tokenizer_lowercase)
from bert2bert.checkpoints.seq2seq import Seq2SeqCheckpoint
from bert2bert.text.vocabulary import Vocabulary

# Half model_type -> (our layout family, decoder weight prefix under `decoder.`, output head).
HALVES = {"bert-generation": ("bert", "bert.", "bias"), "bert": ("bert", "bert.", "lm_head"),
          "roberta": ("roberta", "roberta.", "lm_head"), "gpt2": ("gpt2", "transformer.", "tied")}
VOCAB_FILES = (("spm_model", "spiece.model"), ("vocab_json", "vocab.json"),
               ("merges_txt", "merges.txt"), ("vocab_txt", "vocab.txt"))
TIED_REASON = "tied to the decoder's word embeddings (the output projection)"


def is_encoder_decoder_dir(path: str) -> bool:
    """A directory whose config.json says `model_type: encoder-decoder` (cheap: one small
    JSON file)."""
    config = textfiles.join(path, "config.json")
    if not (textfiles.isdir(path) and textfiles.isfile(config)) \
            or textfiles.getsize(config) > 1 << 20:
        return False
    try:
        with textfiles.open_file(config, "r", encoding="utf-8") as f:
            return json.load(f).get("model_type") == "encoder-decoder"
    except (ValueError, OSError):
        return False


class HuggingFaceEncoderDecoderReader(Seq2SeqCheckpoint):
    format_name = "hf_encoder_decoder"
    description = "Hugging Face EncoderDecoderModel directory (config.json + model.safetensors)"
    ignore_patterns = IGNORED[:1] + [
        (re.compile(r"lm_head\.decoder\.(weight|bias)$"), TIED_REASON)] + IGNORED[1:]

    @classmethod
    def detect(cls, path):
        return is_encoder_decoder_dir(path)

    def __init__(self, path):
        super().__init__(path)
        config_file = textfiles.join(path, "config.json")
        self.weights_file = safetensors_file(path)
        raw, _ = read_config(config_file, "Hugging Face config.json", lambda r: r)
        halves = {}
        for side in ("encoder", "decoder"):
            half = raw.get(side)
            kind = half.get("model_type") if isinstance(half, dict) else None
            if kind not in HALVES or (side == "encoder" and kind == "gpt2"):
                raise CheckpointError(
                    f"{config_file}: the {side} is {kind!r}; expected one of "
                    f"{', '.join(k for k in HALVES if side == 'decoder' or k != 'gpt2')}")
            halves[side] = (kind, half)
        self.family, self.decoder_family = (HALVES[halves[s][0]][0] for s in ("encoder",
                                                                             "decoder"))
        if self.decoder_family not in (self.family, "gpt2"):
            raise CheckpointError(f"{config_file}: encoder and decoder halves of different "
                                  f"layouts ({', '.join(k for k, _ in halves.values())})")
        self.encoder_config = self._arch(*halves["encoder"], config_file)
        self.decoder_config = self._arch(*halves["decoder"], config_file)
        self._file, self._shapes = open_safetensors(self.weights_file)
        self.shared = bool(raw.get("tie_encoder_decoder", False))
        dec_kind = halves["decoder"][0]
        self.output_head = HALVES[dec_kind][2]
        norm = (("weight", "bias") if "encoder.embeddings.LayerNorm.weight" in self._shapes
                else ("gamma", "beta"))
        self.encoder_table = _bert_table("encoder.", norm, self._shapes, head_prefix="encoder.")
        dec_prefix = "decoder." + HALVES[dec_kind][1]
        self.decoder_table = (
            _gpt2_table(dec_prefix, cross=True) if dec_kind == "gpt2" else
            _bert_table(dec_prefix, norm, self._shapes, head_prefix="decoder."))
        self._check_complete(config_file)
        enc_words, dec_words = (t["embeddings/word"][0] for t in (self.encoder_table,
                                                                    self.decoder_table))
        self.separate_embeddings = dec_words in self._shapes and not self.shared
        self.vocab_files = {key: textfiles.join(path, name) for key, name in VOCAB_FILES
                            if textfiles.isfile(textfiles.join(path, name))}
        self.vocab_family = ("sentencepiece" if "spm_model" in self.vocab_files else
                             "roberta" if "vocab_json" in self.vocab_files else "bert")
        if self.decoder_family == "gpt2":  # two vocabularies: WordPiece in, GPT-2's BPE out
            self.vocab_family = "bert" if self.family == "bert" else "roberta"
        self.lowercase = tokenizer_lowercase(path) if self.vocab_family == "bert" else None

    def _arch(self, kind, half, config_file):
        family = HALVES[kind][0]
        try:
            spec = _arch(family, half)
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{config_file}: not a valid {kind} half "
                                  f"({type(e).__name__}: {e})") from e
        if kind == "bert-generation":  # no token-type table, positions from 0
            spec = dataclasses.replace(spec, type_vocab_size=0)
        return spec

    def side_vocabulary(self, side: str) -> Vocabulary:
        """Under a GPT-2 decoder the two sides read different vocabularies: the encoder's
        (`vocab.txt`, or RoBERTa's `vocab.json` + `merges.txt`) and GPT-2's byte-level BPE
        (`vocab.json` + `merges.txt` in `decoder_tokenizer/`, else beside the weights)."""
        if self.decoder_family != "gpt2":
            return self.vocabulary()
        if side == "encoder":
            files = ({"vocab_txt": self.vocab_files.get("vocab_txt")} if self.family == "bert"
                     else {k: self.vocab_files.get(k) for k in ("vocab_json", "merges_txt")})
            return Vocabulary(self.family, {k: v for k, v in files.items() if v},
                              self.lowercase)
        for directory in (textfiles.join(self.path, "decoder_tokenizer"), self.path):
            files = {k: textfiles.join(directory, n) for k, n in (("vocab_json", "vocab.json"),
                                                                ("merges_txt", "merges.txt"))}
            if all(textfiles.isfile(f) for f in files.values()):
                if directory == self.path and self.family == "roberta":
                    break  # those are the encoder's
                return Vocabulary("gpt2", files)
        raise CheckpointError(f"{self.path}: no GPT-2 vocabulary for the decoder (vocab.json + "
                              "merges.txt in decoder_tokenizer/)")

    def _check_complete(self, config_file):
        """A half-converted directory fails here, naming the first missing variable."""
        for side, table, config in (("encoder", self.encoder_table, self.encoder_config),
                                    ("decoder", self.decoder_table, self.decoder_config)):
            if side == "decoder" and self.shared:
                needed = [f"layer_{i}/cross_attention/query/kernel"
                          for i in range(config.num_layers)]
            else:
                needed = ["embeddings/word", "embeddings/position"] + [
                    f"layer_{i}/{part}" for i in range(config.num_layers)
                    for part in ("self_attention/query/kernel", "feed_forward/output/kernel")]
                if side == "decoder":
                    needed += [f"layer_{i}/cross_attention/query/kernel"
                               for i in range(config.num_layers)]
            for canonical in needed:
                template = re.sub(r"^layer_\d+/", "layer_{i}/", canonical)
                index = canonical.split("/")[0][6:] if canonical.startswith("layer_") else None
                original = table[template][0]
                original = original.format(i=index) if index is not None else original
                if original not in self._shapes:
                    raise CheckpointError(
                        f"{self.weights_file}: missing variable '{original}' ({side}, "
                        f"{config_file} says {config.num_layers} layers); is the directory "
                        "completely converted?")

    def variables(self):
        return dict(self._shapes)

    def read(self, name):
        return np.asarray(self._file.get_tensor(name), dtype=np.float32)
