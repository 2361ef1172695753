"""The peer side of peer_learning.py: Hugging Face EncoderDecoderModel (PyTorch) trained on
the batches bert2bert wrote, then beam search on the given sources. Runs in the anchor venv
(`make anchor`); imports no bert2bert. Not a test.

    .anchor/bin/python benchmarks/peer_learning_hf.py WORK_DIR [--init-only]

WORK_DIR/batches.npz and WORK_DIR/recipe.json come from peer_learning.py; writes
WORK_DIR/peer.json: the loss of every update and the generated ids of every source
for each of recipe.json's decoding settings, and the trained model in WORK_DIR/peer_model.
`--init-only` writes the untrained model (warm-started, its random parts drawn) to
WORK_DIR/peer_init and stops; with recipe.json's `"init": "shared"` training starts from it
(bert2bert imports the same directory, so both systems start from the same weights).
"""
import json
import os
import shutil
import sys
import time

import numpy as np
import torch
from transformers import BertLMHeadModel, BertModel, EncoderDecoderModel


def build(recipe):
    torch.manual_seed(recipe["seed"])
    layers = recipe["num_layers"]
    encoder = BertModel.from_pretrained(recipe["checkpoint"], num_hidden_layers=layers,
                                        add_pooling_layer=False)
    decoder = BertLMHeadModel.from_pretrained(recipe["checkpoint"], num_hidden_layers=layers,
                                              is_decoder=True, add_cross_attention=True)
    if recipe["xattn"] == "self":  # cross-attention starts as a copy of the self-attention
        for block in decoder.bert.encoder.layer:
            block.crossattention.load_state_dict(block.attention.state_dict())
    model = EncoderDecoderModel(encoder=encoder, decoder=decoder)
    for c in (model.config, model.generation_config):
        c.decoder_start_token_id, c.pad_token_id, c.eos_token_id = (
            recipe["start_id"], recipe["pad_id"], recipe["end_id"])
    return model


def save(model, recipe, path):
    """`model` as a Hugging Face EncoderDecoderModel directory with MiniLM's vocabulary."""
    model.save_pretrained(path)
    for name in ("vocab.txt", "tokenizer_config.json"):
        shutil.copy(os.path.join(recipe["checkpoint"], name), path)


def optimizer_and_schedule(model, recipe):
    """AdamW without decay on biases and LayerNorm, and bert2bert's LinearSchedule: update k
    (1-based) uses peak * k / warmup during warm-up, then decays linearly to 0 at the end."""
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": recipe["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=recipe["learning_rate"], betas=(recipe["beta_1"], recipe["beta_2"]),
                            eps=recipe["epsilon"])
    warmup, total = recipe["warmup_steps"], recipe["steps"]

    def factor(step):  # step: updates done so far
        s = step + 1
        return s / warmup if s <= warmup else max(0.0, (total - s) / max(total - warmup, 1))

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def main():
    work = sys.argv[1]
    recipe = json.load(open(os.path.join(work, "recipe.json")))
    data = np.load(os.path.join(work, "batches.npz"))
    torch.set_num_threads(recipe["threads"])
    init = os.path.join(work, "peer_init")
    if "--init-only" in sys.argv:
        save(build(recipe), recipe, init)
        return
    if recipe.get("init") == "shared":
        model = EncoderDecoderModel.from_pretrained(init)
    else:
        model = build(recipe)
    opt, schedule = optimizer_and_schedule(model, recipe)
    model.train()
    losses, tic = [], time.perf_counter()
    for i in range(recipe["steps"]):
        src = torch.from_numpy(data[f"src_{i}"]).long()
        tgt = torch.from_numpy(data[f"tgt_{i}"]).long()
        tgt_mask = torch.from_numpy(data[f"tgt_mask_{i}"]).long()
        labels = tgt.masked_fill(tgt_mask == 0, -100)  # padding never counts in the loss
        out = model(input_ids=src, attention_mask=torch.from_numpy(data[f"src_mask_{i}"]).long(),
                    labels=labels, decoder_attention_mask=tgt_mask)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), recipe["clip_norm"])
        opt.step()
        schedule.step()
        opt.zero_grad()
        losses.append(float(out.loss))
        if (i + 1) % 25 == 0:
            print(f"peer update {i + 1}: loss {np.mean(losses[-25:]):.4f}", file=sys.stderr,
                  flush=True)
    train_seconds = time.perf_counter() - tic
    model.eval()
    outputs, tic = {}, time.perf_counter()
    with torch.no_grad():
        done = {}  # (beam size, alpha) -> name: the peer's search has no other setting
        for name, (beam_size, alpha, _) in recipe["decodes"].items():
            if (beam_size, alpha) in done:
                outputs[name] = outputs[done[beam_size, alpha]]
                continue
            done[beam_size, alpha] = name
            outputs[name] = []
            for j in range(int(data["eval_batches"])):
                src = torch.from_numpy(data[f"eval_src_{j}"]).long()
                mask = torch.from_numpy(data[f"eval_src_mask_{j}"]).long()
                ids = model.generate(src, attention_mask=mask, num_beams=beam_size,
                                     do_sample=False, max_new_tokens=recipe["max_length"],
                                     length_penalty=alpha, early_stopping=beam_size > 1)
                outputs[name] += [row[1:].tolist() for row in ids]  # without the start token
    # The trained peer, as a Hugging Face EncoderDecoderModel directory with its vocabulary:
    # peer_learning.py imports it into bert2bert and decodes it with bert2bert's own search.
    save(model, recipe, os.path.join(work, "peer_model"))
    json.dump({"losses": losses, "outputs": outputs, "train_seconds": train_seconds,
               "eval_seconds": time.perf_counter() - tic,
               "params": sum(p.numel() for p in model.parameters()),
               "torch": torch.__version__, "transformers": __import__("transformers").__version__},
              open(os.path.join(work, "peer.json"), "w"))


if __name__ == "__main__":
    main()
