"""export/models.config, batching_parameters.txt, docker-compose.yml and README.md: they parse,
agree with each other, and the README's client commands use options the clients have."""
import importlib.util
import os
import re
import shlex

import pytest
import yaml
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format
from google.protobuf import wrappers_pb2

from tests.export_material.conftest import EXPORT


def _read(name):
    with open(os.path.join(EXPORT, name), encoding="utf-8") as f:
        return f.read()


def _strip_comments(text):
    """Text proto without '#' comments (none of our strings holds a '#')."""
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def _commented_second_example(text):
    """The commented-out `config { ... }` block of models.config, uncommented."""
    lines, inside, depth = [], False, 0
    for line in text.splitlines():
        body = line.strip()
        if not body.startswith("#"):
            continue
        body = body[1:].strip()
        if not inside and body.startswith("config {"):
            inside = True
        if inside:
            lines.append(body)
            depth += body.count("{") - body.count("}")
            if depth == 0:
                break
    assert lines and depth == 0, "models.config has no commented second config block"
    return "\n".join(lines)


# ---------------------------------------------------------------- models.config

def test_models_config_structure():
    """Always runs: balanced braces, the model's name, base_path, platform and a version policy."""
    text = _strip_comments(_read("models.config"))
    assert text.count("{") == text.count("}")
    assert re.search(r"^\s*model_config_list\s*\{", text, re.M)
    assert re.search(r'\bname:\s*"bert2bert"', text)
    assert re.search(r'\bbase_path:\s*"/models/bert2bert"', text)
    assert re.search(r'\bmodel_platform:\s*"tensorflow"', text)
    assert re.search(r"\bmodel_version_policy\s*\{\s*latest\s*\{\s*num_versions:\s*1\s*\}", text)
    second = _commented_second_example(_read("models.config"))
    assert "version_labels" in second and "specific" in second


def test_models_config_is_a_model_server_config():
    pytest.importorskip("tensorflow_serving.config.model_server_config_pb2",
                        reason="tensorflow-serving-api is not installed: the proto check needs "
                               "tensorflow_serving.config.ModelServerConfig")
    from tensorflow_serving.config import model_server_config_pb2

    config = text_format.Parse(_read("models.config"), model_server_config_pb2.ModelServerConfig())
    [model] = config.model_config_list.config
    assert (model.name, model.base_path, model.model_platform) == (
        "bert2bert", "/models/bert2bert", "tensorflow")
    assert model.model_version_policy.WhichOneof("policy_choice") == "latest"
    assert model.model_version_policy.latest.num_versions == 1

    # The commented example is valid too, once uncommented.
    [second] = text_format.Parse(_commented_second_example(_read("models.config")),
                                 model_server_config_pb2.ModelConfigList()).config
    assert list(second.model_version_policy.specific.versions) == [1, 2]
    assert dict(second.version_labels) == {"stable": 1, "canary": 2}


# ---------------------------------------------------------------- batching_parameters.txt

def _batching_parameters_class():
    """tensorflow.serving.BatchingParameters: from TF Serving's own Python protos when they are
    installed (the pip package tensorflow-serving-api does not ship them), else rebuilt here
    with the field names and numbers of session_bundle_config.proto."""
    try:
        from tensorflow_serving.servables.tensorflow import session_bundle_config_pb2
        return session_bundle_config_pb2.BatchingParameters
    except ImportError:
        pass
    wrapper = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
    optional = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
    fields = [("max_batch_size", 1, ".google.protobuf.Int64Value"),
              ("batch_timeout_micros", 2, ".google.protobuf.Int64Value"),
              ("max_enqueued_batches", 3, ".google.protobuf.Int64Value"),
              ("num_batch_threads", 4, ".google.protobuf.Int64Value"),
              ("thread_pool_name", 5, ".google.protobuf.StringValue")]
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="bert2bert_tests/batching_parameters.proto", package="tensorflow.serving",
        syntax="proto3", dependency=["google/protobuf/wrappers.proto"])
    message = file_proto.message_type.add(name="BatchingParameters")
    for name, number, type_name in fields:
        message.field.add(name=name, number=number, type=wrapper, type_name=type_name,
                          label=optional)
    message.field.add(name="allowed_batch_sizes", number=6,
                      type=descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
                      label=descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED)
    message.field.add(name="pad_variable_length_inputs", number=7,
                      type=descriptor_pb2.FieldDescriptorProto.TYPE_BOOL, label=optional)
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    pool.AddSerializedFile(file_proto.SerializeToString())
    descriptor = pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters")
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(pool).GetPrototype(descriptor)


def test_batching_parameters_parse_and_are_consistent():
    params = text_format.Parse(_read("batching_parameters.txt"), _batching_parameters_class()())
    for field in ("max_batch_size", "batch_timeout_micros", "num_batch_threads",
                  "max_enqueued_batches"):
        assert params.HasField(field), f"{field} is not set"
    assert params.max_batch_size.value >= 1
    assert params.num_batch_threads.value >= 1
    assert 0 < params.batch_timeout_micros.value <= 100_000  # at most 0.1 s of waiting
    assert params.max_enqueued_batches.value >= 1
    sizes = list(params.allowed_batch_sizes)
    # TF Serving's requirements: increasing, and the last one is max_batch_size.
    assert sizes == sorted(set(sizes)) and sizes[-1] == params.max_batch_size.value
    # Padding would fill input_mask with its first element (see the file's comments).
    assert not params.pad_variable_length_inputs


def test_batching_parameters_reject_typos():
    """The parser used above is strict: a misspelt field fails (so the test above can fail)."""
    with pytest.raises(text_format.ParseError):
        text_format.Parse("max_batch_sise { value: 8 }", _batching_parameters_class()())


# ---------------------------------------------------------------- docker-compose.yml

def _compose_service():
    compose = yaml.safe_load(_read("docker-compose.yml"))
    [service] = compose["services"].values()
    return service


def _flags(command):
    words = shlex.split(command) if isinstance(command, str) else list(command)
    flags = {}
    for word in words:
        name, _, value = word.partition("=")
        flags[name] = value
    return flags


def test_compose_mounts_what_the_flags_name():
    service = _compose_service()
    assert service["image"].startswith("tensorflow/serving:")
    ports = {str(p).split(":")[-1] for p in service["ports"]}
    assert {"8500", "8501"} <= ports
    mounts = {volume["target"]: volume["source"] for volume in service["volumes"]}
    assert all(volume["type"] == "bind" and volume["read_only"] for volume in service["volumes"])
    flags = _flags(service["command"])
    assert "--enable_batching" in flags
    assert mounts[flags["--model_config_file"]] == "./models.config"
    assert mounts[flags["--batching_parameters_file"]] == "./batching_parameters.txt"
    # models.config's base_path is where the export is mounted.
    base_path = re.search(r'base_path:\s*"([^"]+)"', _strip_comments(_read("models.config"))).group(1)
    assert base_path in mounts and "BERT2BERT_EXPORT" in mounts[base_path]
    for source in mounts.values():
        if source.startswith("./"):
            assert os.path.exists(os.path.join(EXPORT, source)), source


def test_compose_publishes_on_loopback_only():
    """TF Serving has no authentication: its ports are for this machine only."""
    ports = _compose_service()["ports"]
    assert ports
    for port in ports:
        host_ip, _, rest = str(port).partition(":")
        assert host_ip == "127.0.0.1" and rest.count(":") == 1, port


# ---------------------------------------------------------------- README.md

def test_readme_covers_serving():
    text = _read("README.md")
    for needle in ("--model_config_file", "--enable_batching", "--batching_parameters_file",
                   "8500", "8501", "tensorflow/serving", "tf.saved_model.load", "hub.load",
                   "import tensorflow_text", "trainable_variables", "saved_model_cli show --all",
                   ":predict", "curl", "client_rest.py", "client_grpc.py", "tensorflow-serving-api"):
        assert needle in text, needle
    for signature in ("serving_default", "beam_search", "generate_ids", "score"):
        assert f"`{signature}`" in text, signature


def _client_options():
    spec = importlib.util.spec_from_file_location("client_rest", os.path.join(EXPORT, "client_rest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    parser = module.build_parser("", "", "")
    return {option for action in parser._actions for option in action.option_strings}


def test_readme_client_commands_use_real_options():
    options = _client_options()  # client_grpc.py uses the same parser
    commands = [line for line in _read("README.md").splitlines()
                if re.search(r"python\S* +(export/)?client_(rest|grpc)\.py", line)]
    assert len(commands) >= 4
    for line in commands:
        used = set(re.findall(r"(?<![\w-])--[a-z_]+", line.split("client_", 1)[1]))
        assert used <= options, f"unknown options {used - options} in: {line}"
