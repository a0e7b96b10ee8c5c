//! Address attribution: address-only destinations folded into the host seen on them.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::SEEN_AS;
use super::summary::Summary;
use crate::classify::{Category, Protocol};

impl Summary {
    /// Folds address-only destinations into the one host seen with the same address and port
    /// (TLS through `virtualOutbound` is logged without SNI), and notes the candidates when there
    /// are several. Only hosts with undeclared traffic take part: folding into a host that a
    /// ServiceEntry already declares would hide traffic the entry does not cover.
    pub fn attribute_addresses(&mut self) {
        // Only the addresses of address-only destinations matter: the hosts' other addresses
        // are not indexed (with millions of hosts, that index would outweigh the summary).
        let mut wanted: Vec<IpAddr> = self
            .destinations
            .iter()
            .filter(|(k, s)| k.is_address && k.protocol == Protocol::Tcp && s.registered == 0)
            .filter_map(|(k, _)| k.name.parse::<IpAddr>().ok())
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut by_addr: BTreeMap<(IpAddr, u16), BTreeSet<usize>> = BTreeMap::new();
        if !wanted.is_empty() {
            for (i, (k, s)) in self.destinations.iter().enumerate() {
                if k.is_address || s.registered > 0 || s.category != Some(Category::External) {
                    continue;
                }
                for (ip, _) in s.addresses.iter() {
                    if wanted.binary_search(&ip).is_ok() {
                        by_addr.entry((ip, k.port)).or_default().insert(i);
                    }
                }
            }
        }
        drop(wanted);
        let mut moves: Vec<(usize, usize)> = Vec::new();
        let mut notes: Vec<(usize, BTreeSet<Box<str>>)> = Vec::new();
        // The name of the destination at an index.
        let name_of = |h: &usize| -> Box<str> {
            self.destinations
                .get_index(*h)
                .expect("index")
                .0
                .name
                .clone()
        };
        for (i, (k, s)) in self.destinations.iter().enumerate() {
            if !k.is_address || k.protocol != Protocol::Tcp || s.registered > 0 {
                continue;
            }
            let Ok(ip) = k.name.parse::<IpAddr>() else {
                continue;
            };
            let hosts: BTreeSet<usize> = by_addr.get(&(ip, k.port)).cloned().unwrap_or_default();
            match hosts.len() {
                0 => {
                    // Not on this port: still worth saying which hosts used the address.
                    let names: BTreeSet<Box<str>> = by_addr
                        .range((ip, 0)..=(ip, u16::MAX))
                        .flat_map(|(_, hs)| hs.iter())
                        .map(name_of)
                        .collect();
                    if !names.is_empty() {
                        notes.push((i, names));
                    }
                }
                1 => moves.push((i, *hosts.first().expect("one"))),
                _ => notes.push((i, hosts.iter().map(name_of).collect())),
            }
        }
        for (i, names) in notes {
            let seen = self.destinations[i].seen_as.get_mut();
            seen.extend(names);
            while seen.len() > SEEN_AS {
                seen.pop_last();
            }
        }
        // Move stats from address entries into hosts, then drop the address entries.
        let mut taken: Vec<usize> = Vec::with_capacity(moves.len());
        for (from, to) in moves {
            let stats = std::mem::take(&mut self.destinations[from]);
            let ip: IpAddr = self
                .destinations
                .get_index(from)
                .expect("index")
                .0
                .name
                .parse()
                .expect("address");
            let host = &mut self.destinations[to];
            *host.attributed.get_mut().entry(ip).or_default() += stats.lines();
            let keep_category = host.category;
            host.merge(stats);
            host.category = keep_category;
            taken.push(from);
        }
        taken.sort_unstable();
        for i in taken.into_iter().rev() {
            self.destinations.swap_remove_index(i);
        }
    }
}
