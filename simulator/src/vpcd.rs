//! The virtual card's side of vsmartcard's vpcd link: the card is a TCP *client* of the vpcd
//! driver inside pcscd, so the production PC/SC code path talks to it unchanged.
//!
//! Wire protocol (vsmartcard `doc/api.txt`): every message is a big-endian u16 length, then the
//! payload. A one-byte payload is a control: `00` power off, `01` power on, `02` reset (no
//! reply to these three), `04` get ATR (reply: the ATR). A longer payload is a command APDU;
//! the reply is the response APDU. Closing the socket is seen as the card being removed.
//!
//! Latency trap (hardware-lab.md): Debian's vpcd writes the length and the payload in two
//! `send()`s; with delayed ACKs every APDU then waits ~44 ms. We set `TCP_QUICKACK` before
//! *every* read, because Linux clears it again by itself.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use socket2::SockRef;

use crate::card::{Gone, VirtualCard};

/// vpcd's first reader listens here (the next readers on the following ports).
pub const DEFAULT_PORT: u16 = 35963;

/// How a session with vpcd ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// vpcd (pcscd) closed the connection.
    Closed,
    /// A fault pulled the card out: we closed the connection.
    CardRemoved,
    /// The station ejected the card (`EJECT`): we closed the connection after answering.
    Ejected,
    /// `stop` was raised.
    Stopped,
}

/// Connects to vpcd at `addr` and serves `card` until the link ends.
pub fn serve(addr: SocketAddr, card: &mut VirtualCard, stop: &AtomicBool) -> io::Result<Ended> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    // Wake up now and then to notice `stop`.
    stream.set_read_timeout(Some(Duration::from_millis(200)))?;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(Ended::Stopped);
        }
        SockRef::from(&stream).set_tcp_quickack(true)?;
        let mut len = [0u8; 2];
        match read_exact_or_timeout(&mut stream, &mut len)? {
            Read2::Timeout => continue,
            Read2::Closed => return Ok(Ended::Closed),
            Read2::Done => {}
        }
        let mut payload = vec![0u8; usize::from(u16::from_be_bytes(len))];
        SockRef::from(&stream).set_tcp_quickack(true)?;
        stream.set_read_timeout(None)?;
        let r = stream.read_exact(&mut payload);
        stream.set_read_timeout(Some(Duration::from_millis(200)))?;
        if let Err(e) = r {
            return if e.kind() == io::ErrorKind::UnexpectedEof {
                Ok(Ended::Closed)
            } else {
                Err(e)
            };
        }
        let reply = match payload.as_slice() {
            [0x00] | [0x01] | [0x02] => {
                card.reset();
                None
            }
            [0x04] => Some(card.atr()),
            [_] => None,
            apdu => match card.process(apdu) {
                Ok(response) => Some(response),
                Err(Gone::Removed) => return Ok(Ended::CardRemoved),
            },
        };
        if let Some(reply) = reply {
            let mut out = Vec::with_capacity(reply.len() + 2);
            out.extend((reply.len() as u16).to_be_bytes());
            out.extend(reply);
            stream.write_all(&out)?;
        }
        if card.is_ejected() {
            return Ok(Ended::Ejected);
        }
    }
}

enum Read2 {
    Done,
    Timeout,
    Closed,
}

/// Reads the two length bytes; a timeout before the first byte is not an error.
fn read_exact_or_timeout(stream: &mut TcpStream, buf: &mut [u8; 2]) -> io::Result<Read2> {
    let mut got = 0;
    while got < 2 {
        match stream.read(&mut buf[got..]) {
            Ok(0) => return Ok(Read2::Closed),
            Ok(n) => got += n,
            Err(e)
                if got == 0
                    && matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
            {
                return Ok(Read2::Timeout);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Read2::Done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::{CardSpec, Fault};
    use std::net::TcpListener;

    /// Plays vpcd's part: sends messages, reads replies.
    fn send(s: &mut TcpStream, payload: &[u8]) {
        let mut m = (payload.len() as u16).to_be_bytes().to_vec();
        m.extend(payload);
        // Two writes, as Debian's vpcd does.
        s.write_all(&m[..2]).unwrap();
        s.write_all(&m[2..]).unwrap();
    }

    fn reply(s: &mut TcpStream) -> Vec<u8> {
        let mut len = [0u8; 2];
        s.read_exact(&mut len).unwrap();
        let mut p = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut p).unwrap();
        p
    }

    #[test]
    fn the_card_answers_vpcd_controls_and_apdus_and_leaves_on_removal() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let card_side = scope.spawn(|| {
                let mut card =
                    VirtualCard::new(CardSpec::standard(9), b"k", vec![Fault::RemovedAtApdu(3)]);
                let expected_atr = card.atr();
                (serve(addr, &mut card, &stop).unwrap(), expected_atr)
            });
            let (mut vpcd, _) = listener.accept().unwrap();
            send(&mut vpcd, &[0x01]); // power on: no reply
            send(&mut vpcd, &[0x04]);
            let atr = reply(&mut vpcd);
            assert_eq!(&atr[..2], &[0x3B, 0x89]);
            for _ in 0..2 {
                send(&mut vpcd, &[0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00]);
                assert_eq!(reply(&mut vpcd), [0x90, 0x00]);
            }
            // The third APDU pulls the card out: the link closes.
            send(&mut vpcd, &[0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00]);
            let mut b = [0u8; 1];
            assert_eq!(vpcd.read(&mut b).unwrap(), 0, "closed");
            let (ended, expected_atr) = card_side.join().unwrap();
            assert_eq!(ended, Ended::CardRemoved);
            assert_eq!(atr, expected_atr);
        });
    }
}
