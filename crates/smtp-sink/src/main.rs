//! `smtp-sink [--port N] [--delay-ms MS]`: an SMTP server that accepts every mail
//! and prints one line per mail received (for benchmarks and local runs).

use std::time::Duration;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| -> Option<u64> {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
    };
    let sink = match value("--port") {
        Some(p) => smtp_sink::SmtpSink::start_on(u16::try_from(p).unwrap_or(2525))?,
        None => smtp_sink::SmtpSink::start()?,
    };
    if let Some(ms) = value("--delay-ms") {
        sink.set_delay(Duration::from_millis(ms));
    }
    println!("smtp-sink listening on {}", sink.url());
    let mut seen = 0;
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let mails = sink.received();
        for m in &mails[seen..] {
            println!("mail to {:?}: {}", m.to, m.subject);
        }
        seen = mails.len();
    }
}
