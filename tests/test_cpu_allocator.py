"""`import bert2bert` turns on TensorFlow's BFC allocator for CPU tensors (bert2bert/__init__.py)
unless the environment already says otherwise."""
import os
import subprocess
import sys

import pytest
import tensorflow as tf

# Without the BFC allocator TensorFlow keeps no statistics for the CPU and raises ValueError.
PROBE = ("import bert2bert, tensorflow as tf; tf.ones([4]); "
         "tf.config.experimental.get_memory_info('CPU:0')")


def test_cpu_tensors_come_from_the_bfc_allocator():
    # conftest imports bert2bert before TensorFlow's first operation, as a program does
    before = tf.config.experimental.get_memory_info("CPU:0")["current"]
    x = tf.ones([512, 512])
    assert tf.config.experimental.get_memory_info("CPU:0")["current"] >= before + 512 * 512 * 4
    del x


@pytest.mark.slow
def test_the_environment_can_turn_it_off():
    env = dict(os.environ, TF_CPU_ALLOCATOR_USE_BFC="false", TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, timeout=300)
    # TensorFlow's own message: the same probe succeeds with BFC (the test above, in-process)
    assert proc.returncode != 0 and "Allocator stats not available" in proc.stderr
