"""The only layer that imports kademlia/rpcudp: the marketplace DHT node."""
