// A new op reaches the C++ client with no client change. This binary links
// tests/support/extra_op.cc, which adds hypot to the engine's table; the client library was
// generated (client/gen_ops.cc) from the table without it, so it has no hypot method. Through a
// real server on loopback, ListOps lists hypot with PyTorch's schema, and the client's generic
// Session::Apply runs it, with autograd.
#include <cmath>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "server/server.h"
#include "tensord/client.h"
#include "tensord/v1/tensord.grpc.pb.h"

namespace tensord::client {
namespace {

using ::testing::DoubleNear;
using ::testing::ElementsAre;

TEST(NewOp, ListedWithItsSchemaAndCalledThroughTheGenericPath) {
  server::ServerOptions o;
  o.listen = "127.0.0.1:0";
  std::unique_ptr<server::TensordServer> server = *server::TensordServer::Start(o);
  const std::string address = "127.0.0.1:" + std::to_string(server->port());

  auto stub =
      v1::Tensord::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  v1::ListOpsResponse ops;
  ASSERT_TRUE(stub->ListOps(&ctx, v1::ListOpsRequest(), &ops).ok());
  const v1::OpInfo* hypot = nullptr;
  for (const v1::OpInfo& op : ops.ops())
    if (op.name() == "hypot") hypot = &op;
  ASSERT_NE(hypot, nullptr) << "ListOps does not list the test build's op";
  EXPECT_EQ(hypot->schema(), "hypot(Tensor self, Tensor other) -> Tensor");
  EXPECT_EQ(hypot->num_inputs(), 2);

  Session s = Session::Connect({.address = address, .seed = 1});
  Tensor x = s.tensor({3, 5, 8}, {}, requires_grad());
  Tensor y = s.tensor({4, 12, 15});
  Tensor h = s.Apply("hypot", {x, y}, {}, 1)[0];
  EXPECT_THAT(h.to_vector<double>(), ElementsAre(5, 13, 17));
  h.sum().backward();  // d/dx sqrt(x^2 + y^2) = x / h
  EXPECT_THAT(x.grad().to_vector<double>(),
              ElementsAre(DoubleNear(3.0 / 5, 1e-6), DoubleNear(5.0 / 13, 1e-6),
                          DoubleNear(8.0 / 17, 1e-6)));
}

}  // namespace
}  // namespace tensord::client
