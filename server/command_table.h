// Every session command, declared once. Each is a unary RPC of the same name (proto rpc
// Tensord.NAME), a field of the Command oneof (batches and streams), a CommandRunner method that
// does the work on the session's strand, and a field of CommandResult for its answer. The
// service's handlers, CommandRunner's declarations and Run's dispatch are generated from this
// list; command_table_test checks it against the proto's descriptors both ways.
//
//   _(Name, command_field, Request, Response, result_field)
#pragma once

#define TENSORD_FORALL_SESSION_COMMANDS(_)                                                \
  _(CreateTensor, create_tensor, CreateTensorRequest, TensorsResponse, tensors)           \
  _(Factory, factory, FactoryRequest, TensorsResponse, tensors)                           \
  _(ApplyOp, apply_op, ApplyOpRequest, TensorsResponse, tensors)                          \
  _(SetRequiresGrad, set_requires_grad, SetRequiresGradRequest, TensorsResponse, tensors) \
  _(Detach, detach, AliasRequest, TensorsResponse, tensors)                               \
  _(Data, data, AliasRequest, TensorsResponse, tensors)                                   \
  _(SetData, set_data, SetDataRequest, TensorsResponse, tensors)                          \
  _(DetachInplace, detach_inplace, TensorRequest, TensorsResponse, tensors)               \
  _(RetainGrad, retain_grad, TensorRequest, TensorsResponse, tensors)                     \
  _(Release, release, ReleaseRequest, ReleaseResponse, release)                           \
  _(GetTensor, get_tensor, GetTensorRequest, GetTensorResponse, tensor)                   \
  _(GetInfo, get_info, TensorRequest, TensorsResponse, tensors)                           \
  _(ZeroGrad, zero_grad, TensorRequest, TensorsResponse, tensors)                         \
  _(SetGrad, set_grad, SetGradRequest, TensorsResponse, tensors)                          \
  _(BindGrad, bind_grad, AliasRequest, TensorsResponse, tensors)                          \
  _(Backward, backward, BackwardRequest, BackwardResponse, backward)                      \
  _(Grad, grad, GradRequest, GradResponse, grad)                                          \
  _(SetGradMode, set_grad_mode, SetGradModeRequest, GradModeResponse, grad_mode)          \
  _(GetGraph, get_graph, GetGraphRequest, GraphResponse, graph)                           \
  _(Save, save, SaveRequest, SaveResponse, save)                                          \
  _(Load, load, LoadRequest, LoadResponse, load)
