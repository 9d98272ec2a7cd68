// A minimal callback-API gRPC server: Echo returns its payload, Upload counts bytes, Download
// streams bytes. Usage: raw_echo_server --listen=127.0.0.1:0 (prints "port N").
#include <grpcpp/grpcpp.h>

#include <csignal>
#include <cstring>
#include <iostream>
#include <string>

#include "raw_echo.grpc.pb.h"

namespace {

using tensord::bench::Bytes;
using tensord::bench::Size;

class Service final : public tensord::bench::RawEcho::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* ctx, const Bytes* req,
                                 Bytes* resp) override {
    resp->set_data(req->data());
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }

  grpc::ServerReadReactor<Bytes>* Upload(grpc::CallbackServerContext*, Size* resp) override {
    class Reader : public grpc::ServerReadReactor<Bytes> {
     public:
      explicit Reader(Size* resp) : resp_(resp) { StartRead(&chunk_); }
      void OnReadDone(bool ok) override {
        if (!ok) {
          resp_->set_bytes(total_);
          Finish(grpc::Status::OK);
          return;
        }
        total_ += static_cast<int64_t>(chunk_.data().size());
        StartRead(&chunk_);
      }
      void OnDone() override { delete this; }

     private:
      Size* resp_;
      Bytes chunk_;
      int64_t total_ = 0;
    };
    return new Reader(resp);
  }

  grpc::ServerWriteReactor<Bytes>* Download(grpc::CallbackServerContext*,
                                            const Size* req) override {
    class Writer : public grpc::ServerWriteReactor<Bytes> {
     public:
      explicit Writer(const Size* req)
          : left_(req->bytes()),
            chunk_bytes_(req->chunk_bytes() > 0 ? req->chunk_bytes() : 1 << 20) {
        // One buffer of the data, as tensord holds the tensor's bytes before streaming them.
        data_.assign(static_cast<size_t>(left_), '\x5a');
        Next();
      }
      void OnWriteDone(bool ok) override {
        if (!ok) {
          Finish(grpc::Status::CANCELLED);
          return;
        }
        Next();
      }
      void OnDone() override { delete this; }

     private:
      void Next() {
        if (left_ <= 0) {
          Finish(grpc::Status::OK);
          return;
        }
        const int64_t n = std::min(left_, chunk_bytes_);
        chunk_.set_data(data_.data() + offset_, static_cast<size_t>(n));
        offset_ += n;
        left_ -= n;
        StartWrite(&chunk_);
      }
      int64_t left_;
      int64_t chunk_bytes_;
      int64_t offset_ = 0;
      std::string data_;
      Bytes chunk_;
    };
    return new Writer(req);
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0";
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--listen=", 9) == 0) listen = argv[i] + 9;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before gRPC starts its threads
  Service service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(16 << 20);
  builder.SetMaxSendMessageSize(16 << 20);
  auto server = builder.BuildAndStart();
  if (!server) return 1;
  std::cout << "port " << port << std::endl;
  int sig;
  sigwait(&set, &sig);
  server->Shutdown();
  return 0;
}
