module github.com/pulsestream/pulsestream/client

go 1.24
