module github.com/synack/synack

go 1.26
