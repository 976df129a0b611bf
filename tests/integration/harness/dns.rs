//! Real DNS servers on loopback for the DNS tests. Nothing here ever sends a query off the machine.
//!
//! - `DnsServer`: hickory-server in-process, authoritative for the fixture zones, on 127.0.0.1:P.
//!   It answers recursive and non-recursive queries alike, so it stands in for both the public
//!   resolvers (`--resolver 127.0.0.1:P`) and the zones' name servers (`KIRO_ONBOARD_DNS_PORT=P`,
//!   with `ns1.example.com A 127.0.0.1`). Records can be added while a test runs.
//! - A SERVFAIL responder on 127.0.0.2:P and a silent server on 127.0.0.3:P: name servers of the
//!   fixture zones `example.net` and `example.org`, so one zone can have a good and a bad server.
//! - `MotoDns`: hickory-server answering from the hosted zones moto holds, read on every query,
//!   standing in for Route 53's name servers: what apply writes to moto really resolves.
//! - `Dnsmasq`: the stock C server from apt, for one end-to-end test of the binary.

use std::collections::BTreeSet;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_server::Server;
use hickory_server::net::runtime::{Time, TokioRuntimeProvider};
use hickory_server::proto::rr::rdata::TXT;
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::proto::serialize::txt::Parser;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};

/// The token the fixture records hold.
pub const TOKEN: &str = "kiro-verification=abc123";

/// `example.com`: the good zone. Records, by prefix: `kiro-app-1` the token; `split` the token in
/// three strings; `multi` the token among other values; `other` other values only; `host` an A
/// record only (no TXT data); `long` a 300-character token in two strings.
pub const EXAMPLE_COM: &str = r#"
$ORIGIN example.com.
$TTL 60
@          IN SOA ns1 hostmaster ( 1 3600 600 86400 60 )
@          IN NS  ns1
ns1        IN A   127.0.0.1
kiro-app-1 IN TXT "kiro-verification=abc123"
split      IN TXT "kiro-verification=" "abc" "123"
multi      IN TXT "v=spf1 include:_spf.example.com ~all"
multi      IN TXT "google-site-verification=Xy3"
multi      IN TXT "kiro-verification=abc123"
other      120 IN TXT "v=spf1 -all"
host       IN A   127.0.0.9
"#;

/// `example.net`: one good name server and one that answers SERVFAIL.
const EXAMPLE_NET: &str = r#"
$ORIGIN example.net.
$TTL 60
@          IN SOA ns1.example.com. hostmaster ( 1 3600 600 86400 60 )
@          IN NS  ns1.example.com.
@          IN NS  ns2
ns2        IN A   127.0.0.2
kiro-app-1 IN TXT "kiro-verification=abc123"
"#;

/// `example.org`: one good name server and one that never answers.
const EXAMPLE_ORG: &str = r#"
$ORIGIN example.org.
$TTL 60
@          IN SOA ns1.example.com. hostmaster ( 1 3600 600 86400 60 )
@          IN NS  ns1.example.com.
@          IN NS  ns3
ns3        IN A   127.0.0.3
kiro-app-1 IN TXT "kiro-verification=abc123"
"#;

fn zone(text: &str, origin: &str) -> (LowerName, Arc<InMemoryZoneHandler<TokioRuntimeProvider>>) {
    let (origin, records) = Parser::new(text, None, Some(Name::from_ascii(origin).unwrap()))
        .parse()
        .unwrap_or_else(|e| panic!("fixture zone {origin} parses: {e}\n{text}"));
    let handler =
        InMemoryZoneHandler::<TokioRuntimeProvider>::new(origin.clone(), records, ZoneType::Primary, AxfrPolicy::Deny)
            .expect("fixture zone loads");
    (LowerName::from(&origin), Arc::new(handler))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a test runtime")
}

/// Binds UDP and TCP on 127.0.0.1 on the same free port, and on the same port on 127.0.0.2
/// (SERVFAIL) and 127.0.0.3 (silent), retrying when a port is taken.
async fn bind_all()
-> (tokio::net::UdpSocket, tokio::net::TcpListener, std::net::UdpSocket, (std::net::UdpSocket, std::net::TcpListener)) {
    for _ in 0..20 {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = udp.local_addr().unwrap().port();
        let Ok(tcp) = tokio::net::TcpListener::bind(("127.0.0.1", port)).await else {
            continue;
        };
        let Ok(servfail) = std::net::UdpSocket::bind(("127.0.0.2", port)) else {
            continue;
        };
        let (Ok(dead_udp), Ok(dead_tcp)) =
            (std::net::UdpSocket::bind(("127.0.0.3", port)), std::net::TcpListener::bind(("127.0.0.3", port)))
        else {
            continue;
        };
        return (udp, tcp, servfail, (dead_udp, dead_tcp));
    }
    panic!("no free port on 127.0.0.1-3 after 20 tries");
}

/// Answers every query on `socket` with SERVFAIL: the query echoed with QR set and RCODE 2.
fn serve_servfail(socket: std::net::UdpSocket) {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok((len, from)) = socket.recv_from(&mut buffer) {
            if len < 12 {
                continue;
            }
            let mut reply = buffer[..len].to_vec();
            reply[2] |= 0x80;
            reply[3] = (reply[3] & 0xf0) | 2;
            let _ = socket.send_to(&reply, from);
        }
    });
}

pub struct DnsServer {
    pub addr: SocketAddr,
    example_com: Arc<InMemoryZoneHandler<TokioRuntimeProvider>>,
    runtime: tokio::runtime::Runtime,
    // Kept open so the port stays taken and nothing answers.
    _silent: (std::net::UdpSocket, std::net::TcpListener),
}

impl DnsServer {
    pub fn start() -> DnsServer {
        let runtime = runtime();
        let (addr, example_com, silent) = runtime.block_on(async {
            let mut catalog = Catalog::new();
            let (name, example_com) = zone(EXAMPLE_COM, "example.com.");
            catalog.upsert(name, vec![example_com.clone()]);
            for (text, origin) in [(EXAMPLE_NET, "example.net."), (EXAMPLE_ORG, "example.org.")] {
                let (name, handler) = zone(text, origin);
                catalog.upsert(name, vec![handler]);
            }
            let (udp, tcp, servfail, silent) = bind_all().await;
            let addr = udp.local_addr().unwrap();
            serve_servfail(servfail);
            let mut server = Server::new(catalog);
            server.register_socket(udp);
            server.register_listener(tcp, Duration::from_secs(5), 4096);
            tokio::spawn(async move {
                let _ = server.block_until_done().await;
            });
            (addr, example_com, silent)
        });
        DnsServer { addr, example_com, runtime, _silent: silent }
    }

    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }

    /// `--resolver 127.0.0.1:P`.
    pub fn resolver(&self) -> String {
        self.addr.to_string()
    }

    /// Adds a TXT record `name` (relative to example.com) after `delay`, while the test goes on.
    pub fn add_txt_later(&self, name: &str, value: &str, delay: Duration) {
        let handler = self.example_com.clone();
        let name = Name::from_str(&format!("{name}.example.com.")).unwrap();
        let record = Record::from_rdata(name, 60, RData::TXT(TXT::new(vec![value.to_owned()])));
        self.runtime.spawn(async move {
            tokio::time::sleep(delay).await;
            handler.upsert(record, 2).await;
        });
    }
}

/// Serves the hosted zones that moto holds, read afresh for every query, as Route 53's name
/// servers would: public zones only (a private zone is invisible to public DNS), every record set
/// as stored, and an A record 127.0.0.1 for each name server host, so the tool asks this server
/// (`KIRO_ONBOARD_DNS_PORT`) when it asks "Route 53".
pub struct MotoDns {
    pub addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

struct MotoHandler {
    client: aws_sdk_route53::Client,
}

impl MotoHandler {
    async fn catalog(&self) -> Catalog {
        let mut catalog = Catalog::new();
        let zones = self.client.list_hosted_zones().send().await.expect("moto lists hosted zones");
        let mut served = Vec::new();
        let mut name_servers = BTreeSet::new();
        for hosted in zones.hosted_zones() {
            if hosted.config().is_some_and(|c| c.private_zone()) {
                continue;
            }
            let origin = hosted.name().to_ascii_lowercase();
            let origin = if origin.ends_with('.') { origin } else { format!("{origin}.") };
            let mut text = format!(
                "$ORIGIN {origin}\n$TTL 300\n@ 300 IN SOA ns.moto-dns.test. hostmaster.{origin} ( 1 3600 600 86400 60 )\n"
            );
            let sets = self
                .client
                .list_resource_record_sets()
                .hosted_zone_id(hosted.id())
                .send()
                .await
                .expect("moto lists record sets");
            for set in sets.resource_record_sets() {
                let kind = set.r#type().as_str();
                if kind == "SOA" {
                    continue; // moto renders SOA values wrongly; ours above stands in
                }
                let name = if set.name().ends_with('.') { set.name().to_owned() } else { format!("{}.", set.name()) };
                for record in set.resource_records() {
                    let mut value = record.value().to_owned();
                    if matches!(kind, "NS" | "CNAME") && !value.ends_with('.') {
                        value.push('.');
                    }
                    if kind == "NS" {
                        name_servers.insert(value.trim_end_matches('.').to_ascii_lowercase());
                    }
                    text.push_str(&format!("{name} {} IN {kind} {value}\n", set.ttl().unwrap_or(300)));
                }
            }
            served.push(origin.clone());
            let (name, handler) = zone(&text, &origin);
            catalog.upsert(name, vec![handler]);
        }
        for host in name_servers {
            if served.iter().any(|z| format!("{host}.").ends_with(&format!(".{z}"))) {
                continue;
            }
            let origin = format!("{host}.");
            let text = format!(
                "$ORIGIN {origin}\n$TTL 300\n@ IN SOA {origin} hostmaster.{origin} ( 1 3600 600 86400 60 )\n@ IN NS {origin}\n@ IN A 127.0.0.1\n"
            );
            let (name, handler) = zone(&text, &origin);
            catalog.upsert(name, vec![handler]);
        }
        catalog
    }
}

#[async_trait::async_trait]
impl RequestHandler for MotoHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(&self, request: &Request, response_handle: R) -> ResponseInfo {
        let catalog = self.catalog().await;
        catalog.handle_request::<R, T>(request, response_handle).await
    }
}

impl MotoDns {
    pub fn start(moto: &super::Moto) -> MotoDns {
        let runtime = runtime();
        let addr = runtime.block_on(async {
            let client = aws_sdk_route53::Client::new(&moto.sdk().await);
            // The free UDP port may be taken for TCP by another server: try again with another.
            let mut bound = None;
            for _ in 0..20 {
                let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
                if let Ok(tcp) = tokio::net::TcpListener::bind(udp.local_addr().unwrap()).await {
                    bound = Some((udp, tcp));
                    break;
                }
            }
            let (udp, tcp) = bound.expect("a loopback port free for both UDP and TCP after 20 tries");
            let addr = udp.local_addr().unwrap();
            let mut server = Server::new(MotoHandler { client });
            server.register_socket(udp);
            server.register_listener(tcp, Duration::from_secs(5), 4096);
            tokio::spawn(async move {
                let _ = server.block_until_done().await;
            });
            addr
        });
        MotoDns { addr, _runtime: runtime }
    }

    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }

    pub fn resolver(&self) -> String {
        self.addr.to_string()
    }
}

/// dnsmasq (Debian's `dnsmasq-base`) on a free loopback port with the given extra arguments,
/// stopped when dropped. `None` when dnsmasq is not installed (the caller decides whether that
/// fails the test: `REQUIRE_DNSMASQ=1` makes it fail).
pub struct Dnsmasq {
    child: Child,
    pub port: u16,
}

pub fn dnsmasq_binary() -> Option<std::path::PathBuf> {
    ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq", "/sbin/dnsmasq"].iter().map(std::path::PathBuf::from).find(|p| p.exists())
}

impl Dnsmasq {
    pub fn start(args: &[String]) -> Option<Dnsmasq> {
        let binary = dnsmasq_binary()?;
        for _ in 0..5 {
            let port = super::free_port();
            let mut command = Command::new(&binary);
            command
                .args([
                    "--keep-in-foreground",
                    "--conf-file=/dev/null",
                    "--no-resolv",
                    "--no-hosts",
                    "--listen-address=127.0.0.1",
                    "--bind-interfaces",
                    "--pid-file=",
                    "--log-facility=-",
                ])
                .arg(format!("--port={port}"))
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // As root dnsmasq drops to `nobody` unless told otherwise; either works on a high port.
            if is_root() {
                command.arg("--user=root");
            }
            let mut child = command.spawn().expect("start dnsmasq");
            if wait_ready(port) {
                return Some(Dnsmasq { child, port });
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("dnsmasq did not start on a free port after 5 tries");
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// Sends a hand-built query for `. NS` until any reply arrives (at most 5 s).
fn wait_ready(port: u16) -> bool {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let query = [0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01];
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buffer = [0u8; 512];
    while Instant::now() < deadline {
        let _ = socket.send_to(&query, ("127.0.0.1", port));
        if socket.recv_from(&mut buffer).is_ok() {
            return true;
        }
    }
    false
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
