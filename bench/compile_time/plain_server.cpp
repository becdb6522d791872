// The baseline of the compile-time benchmark: the smallest httplib server, without tollgate.
#include <httplib.h>

int main() {
  httplib::Server server;
  server.Get("/report", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
  server.listen("127.0.0.1", 8080);
}
