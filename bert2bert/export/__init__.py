"""Serving: strings-in/strings-out generation, SavedModel export and batch prediction.

    from bert2bert.export import export_run, predict_lines
    path = export_run("runs/smoke", "exports/smoke")          # exports/smoke/1
    predict_lines(["A sentence ."], saved_model=path)        # ["..."]
"""
from bert2bert.export.generator import Generator
from bert2bert.export.predict import predict_file, predict_lines
from bert2bert.export.saved_model import (export_run, generator_for_run, next_version,
                                          save_generator)

__all__ = ["Generator", "export_run", "generator_for_run", "next_version", "predict_file",
           "predict_lines", "save_generator"]
