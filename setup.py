"""bert2bert: warm-started Transformer encoder-decoders (Rothe, Narayan, Severyn, TACL 2020)."""
from setuptools import find_packages, setup

INSTALL_REQUIRES = [
    "tensorflow==2.20.*",
    "tensorflow-text==2.20.*",
    "tf-keras==2.20.*",
    "keras==3.15.*",
    "keras-hub==0.32.*",
    "keras-nlp==0.32.*",
    "tensorflow-datasets==4.9.10",
    "tf-models-official==2.20.0",
    "pyyaml>=6",
    "tqdm>=4.60",
    "numpy",
    "safetensors>=0.4",
    "rouge-score>=0.1.2",
    "sacrebleu>=2.3",
    "importlib_resources",  # tensorflow-datasets needs it to prepare its own datasets
    "tensorflow-serving-api==2.20.0",  # the export's TF Serving warm-up requests
]

TEST_REQUIRES = [
    "pytest>=8",
    "pytest-timeout",
    "pytest-xdist>=3.6",  # `make test`: -n 2 --dist loadgroup
    "tokenizers",
    "tiktoken",
    "sentencepiece",
]

setup(
    name="bert2bert",
    version="0.1.0",
    description=(
        "Leveraging pre-trained checkpoints for sequence generation: "
        "BERT/GPT-2/RoBERTa warm-started encoder-decoders in Keras 3."
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["bert2bert", "bert2bert.*"]),
    include_package_data=True,
    install_requires=INSTALL_REQUIRES,
    extras_require={"test": TEST_REQUIRES},
    entry_points={"console_scripts": ["bert2bert=bert2bert.cli:main"]},
)
